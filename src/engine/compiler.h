/* The one place for compiler-specific annotations. Everything else in the
 * project is plain C11. */
#ifndef LD_COMPILER_H
#define LD_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define LD_PRINTF(fmt_index, arg_index) __attribute__((format(printf, fmt_index, arg_index)))
/* inline even where the heuristics would not: a body specialised for
 * constant arguments (cpu/conv_winograd.c's tile transforms) */
#define LD_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LD_PRINTF(fmt_index, arg_index)
#define LD_ALWAYS_INLINE inline
#endif

#endif

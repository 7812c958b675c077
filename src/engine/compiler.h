/* The one place for compiler-specific annotations. Everything else in the
 * project is plain C11. */
#ifndef LD_COMPILER_H
#define LD_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define LD_PRINTF(fmt_index, arg_index) __attribute__((format(printf, fmt_index, arg_index)))
#else
#define LD_PRINTF(fmt_index, arg_index)
#endif

#endif

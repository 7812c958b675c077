/* Bump allocator for per-step memory (activations, gradients, tape
 * records). Memory comes in chunks that are kept across resets, so a training
 * loop allocates nothing from the system after its first step; chunks are
 * whole 2 MiB pages, advised as huge pages where Linux offers them. */
#ifndef LD_ARENA_H
#define LD_ARENA_H

#include <stddef.h>

#define LD_ALIGN 64

/* bytes rounded up to a multiple of LD_ALIGN (a cache line): the size of a
 * buffer after which the next one starts aligned. */
static inline size_t ld_align_up(size_t bytes)
{
    return (bytes + LD_ALIGN - 1) / LD_ALIGN * LD_ALIGN;
}

typedef struct ld_arena_chunk ld_arena_chunk;

typedef struct ld_arena {
    ld_arena_chunk *first;   /* chunk list, kept across resets */
    ld_arena_chunk *current; /* chunk being filled */
    size_t used;             /* bytes used in current */
    size_t chunk_bytes;      /* size of new chunks */
    size_t peak;             /* most bytes ever in use at once */
    size_t in_use;           /* bytes in use now (all chunks) */
} ld_arena;

void ld_arena_init(ld_arena *a, size_t chunk_bytes);
void ld_arena_free(ld_arena *a);
/* Returns LD_ALIGN-aligned memory valid until the next reset, or NULL when
 * the system is out of memory. */
void *ld_arena_alloc(ld_arena *a, size_t bytes);
void ld_arena_reset(ld_arena *a);

/* Bytes held by the chunks of all arenas, and the most they may hold:
 * nine tenths of the memory available when first asked (or of the
 * machine's, or its cgroup's limit, when less). A chunk beyond it is refused
 * (ld_arena_alloc returns NULL) rather than left for the kernel to kill
 * the process when it is first touched. */
size_t ld_arena_total_bytes(void);
size_t ld_arena_memory_limit(void);

#endif

/* Chunked bump allocator: see arena.h. */
#include "engine/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

struct ld_arena_chunk {
    ld_arena_chunk *next;
    size_t size;
    unsigned char *mem;
};

void ld_arena_init(ld_arena *a, size_t chunk_bytes)
{
    a->first = a->current = NULL;
    a->used = 0;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : ((size_t)64 << 20);
    a->peak = a->in_use = 0;
}

void ld_arena_free(ld_arena *a)
{
    ld_arena_chunk *c = a->first;
    while (c) {
        ld_arena_chunk *next = c->next;
        free(c->mem);
        free(c);
        c = next;
    }
    ld_arena_init(a, a->chunk_bytes);
}

static ld_arena_chunk *chunk_new(size_t size)
{
    ld_arena_chunk *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    /* whole 2 MiB pages where the system has them (Linux's transparent
     * huge pages in madvise mode): the Winograd transforms and products
     * touch dozens of 4 KiB pages per tile, and each TLB miss costs */
    size = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    c->mem = aligned_alloc(HUGE_PAGE, size);
    if (!c->mem) {
        free(c);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(c->mem, size, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    c->size = size;
    c->next = NULL;
    return c;
}

void *ld_arena_alloc(ld_arena *a, size_t bytes)
{
    bytes = ld_align_up(bytes);
    if (bytes == 0)
        bytes = LD_ALIGN;
    while (a->current && a->used + bytes > a->current->size) {
        /* move on to the next kept chunk that is large enough; a chunk too
         * small for this request is skipped (its tail is wasted this step) */
        a->in_use += a->current->size - a->used;
        a->current = a->current->next;
        a->used = 0;
    }
    if (!a->current) {
        size_t size = bytes > a->chunk_bytes ? bytes : a->chunk_bytes;
        ld_arena_chunk *c = chunk_new(size);
        if (!c)
            return NULL;
        if (!a->first) {
            a->first = c;
        } else {
            ld_arena_chunk *last = a->first;
            while (last->next)
                last = last->next;
            last->next = c;
        }
        a->current = c;
        a->used = 0;
    }
    void *p = a->current->mem + a->used;
    a->used += bytes;
    a->in_use += bytes;
    if (a->in_use > a->peak)
        a->peak = a->in_use;
    return p;
}

void ld_arena_reset(ld_arena *a)
{
    a->current = a->first;
    a->used = 0;
    a->in_use = 0;
}

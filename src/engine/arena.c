/* Chunked bump allocator: see arena.h. */
#include "engine/arena.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* Bytes in the chunks of every arena of the process. */
static atomic_size_t total_bytes;

/* The first number in file `path` after `key` (a line of /proc/meminfo:
 * kB), or 0. */
static unsigned long long read_number(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long value = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)) &&
            sscanf(line + strlen(key), "%llu", &value) == 1)
            break;
    fclose(f);
    return value;
}

/* Nine tenths of the memory available when first asked (Linux's
 * MemAvailable), of the machine's memory, or of the cgroup's limit, the
 * least known; SIZE_MAX when none is known. The arenas are most of what
 * a command holds; the tenth leaves room for the rest. */
static size_t memory_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    unsigned long long limit = pages > 0 && page > 0 ? (unsigned long long)pages * page
                                                     : ULLONG_MAX;
    unsigned long long available = read_number("/proc/meminfo", "MemAvailable:") * 1024,
                       cgroup = read_number("/sys/fs/cgroup/memory.max", "");
    if (available && available < limit)
        limit = available;
    if (cgroup && cgroup < limit)
        limit = cgroup;
    return limit == ULLONG_MAX || limit / 10 * 9 > SIZE_MAX ? SIZE_MAX
                                                             : (size_t)(limit / 10 * 9);
}

size_t ld_arena_total_bytes(void) { return atomic_load(&total_bytes); }

size_t ld_arena_memory_limit(void)
{
    static size_t limit;
    if (!limit)
        limit = memory_limit();
    return limit;
}

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
        atomic_fetch_sub(&total_bytes, c->size);
        free(c->mem);
        free(c);
        c = next;
    }
    ld_arena_init(a, a->chunk_bytes);
}

static ld_arena_chunk *chunk_new(size_t size)
{
    /* whole 2 MiB pages where the system has them (Linux's transparent
     * huge pages in madvise mode): the Winograd transforms and products
     * touch dozens of 4 KiB pages per tile, and each TLB miss costs */
    size = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    /* beyond the machine's memory the allocation would succeed (Linux
     * overcommits) and the kernel would kill the process on first touch:
     * refuse instead, so the caller can say so */
    size_t limit = ld_arena_memory_limit();
    if (size > limit || atomic_load(&total_bytes) > limit - size)
        return NULL;
    ld_arena_chunk *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->mem = aligned_alloc(HUGE_PAGE, size);
    if (!c->mem) {
        free(c);
        return NULL;
    }
    atomic_fetch_add(&total_bytes, size);
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

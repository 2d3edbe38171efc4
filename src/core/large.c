/* large.c - big, long-lived model tables on huge pages where the system offers them. */
#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS, madvise, MADV_HUGEPAGE */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/core.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define SMALL_PAGE ((size_t)4096)
/* Each block starts with a header saying how it was made (and, if mapped, its length), so
 * fa_free_large needs only the pointer; 64 bytes keep the caller's data cache-line aligned. */
#define HEADER ((size_t)64)

typedef struct large_header {
    size_t mapped; /* the mapping's length, or 0 for a malloc'd block */
} large_header;

static void *with_header(char *base, size_t mapped)
{
    ((large_header *)(void *)base)->mapped = mapped;
    return base + HEADER;
}

#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
/* A private mapping of len bytes (a multiple of 4 KB) at a 2 MB boundary, or NULL. Mapped
 * rather than malloc'd: glibc serves big blocks from its heaps once its dynamic mmap threshold
 * has risen, and a freed block there keeps its pages (and its huge-page advice) resident, so
 * opening and closing models many times in one process drifted upwards by megabytes. */
static char *map_aligned(size_t len)
{
    if (len > SIZE_MAX - HUGE_PAGE)
        return NULL;
    size_t span = len + HUGE_PAGE;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t at = ((uintptr_t)m + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    size_t head = (size_t)(at - (uintptr_t)m), tail = span - head - len;
    if (head)
        (void)munmap(m, head);
    if (tail)
        (void)munmap(m + head + len, tail);
    return m + head;
}
#endif

void *fa_malloc_large(size_t n, fa_err *err, const char *what)
{
    if (n > SIZE_MAX - HUGE_PAGE - HEADER)
        return fa_malloc(SIZE_MAX, err, what); /* records the failure */
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
    /* Tens of MB written once at load (the CCNF Sigmas): with 4 KB pages every page's first
     * write is a fault, and in the VMs this runs on faults were a third of the load time. A
     * 2 MB-aligned mapping advised as huge-page memory takes one fault per 2 MB. Where the
     * advice is refused or unsupported the memory is ordinary. */
    if (n + HEADER >= HUGE_PAGE) {
        /* The length in 4 KB pages, not whole huge pages: the kernel backs the 2 MB ranges the
         * mapping covers with huge pages and the tail with small ones, so a table of 2.6 MB is
         * 2.6 MB resident, not 4 (the landmark model's tables wasted 12 MB that way). */
        size_t len = (n + HEADER + SMALL_PAGE - 1) / SMALL_PAGE * SMALL_PAGE;
        char *base = map_aligned(len);
        if (base) {
            (void)madvise(base, len, MADV_HUGEPAGE);
            return with_header(base, len);
        }
    }
#endif
    char *base = fa_malloc(n + HEADER, err, what);
    return base ? with_header(base, 0) : NULL;
}

void fa_free_large(void *p)
{
    if (!p)
        return;
    char *base = (char *)p - HEADER;
    size_t mapped = ((large_header *)(void *)base)->mapped;
    if (mapped)
        (void)munmap(base, mapped);
    else
        free(base);
}

/* ---- arenas ---------------------------------------------------------------------------------- */

#define ARENA_RESERVE ((size_t)64 << 20) /* address space, not memory: untouched pages are free */
#define ARENA_ALIGN ((size_t)64)

struct fa_large_chunk {
    fa_large_chunk *next;
    char *base;       /* the mapping (or malloc'd block, mapped == 0) */
    size_t mapped;    /* its length now */
    size_t used;      /* bytes handed out, from base */
    size_t last;      /* offset of the newest table */
};

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

void *fa_large_arena_alloc(fa_large_arena *a, size_t n, fa_err *err, const char *what)
{
    if (n > SIZE_MAX / 2)
        return fa_malloc(SIZE_MAX, err, what); /* records the failure */
    fa_large_chunk *c = a->chunks;
    if (c && c->mapped && round_up(c->used, ARENA_ALIGN) + n <= c->mapped) {
        c->last = round_up(c->used, ARENA_ALIGN);
        c->used = c->last + n;
        return c->base + c->last;
    }
    c = fa_calloc(1, sizeof *c, err, what);
    if (!c)
        return NULL;
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
    /* a new reservation; the previous one keeps only what it handed out */
    fa_large_arena_trim(a);
    const size_t len = round_up(n > ARENA_RESERVE ? n : ARENA_RESERVE, HUGE_PAGE);
    char *base = map_aligned(len);
    if (base) {
        (void)madvise(base, len, MADV_HUGEPAGE);
        c->base = base;
        c->mapped = len;
    }
#endif
    if (!c->base) {
        c->base = fa_calloc(1, n ? n : 1, err, what);
        if (!c->base) {
            free(c);
            return NULL;
        }
    }
    c->used = n;
    c->last = 0;
    c->next = a->chunks;
    a->chunks = c;
    return c->base;
}

void fa_large_arena_shrink(fa_large_arena *a, void *p, size_t n)
{
    fa_large_chunk *c = a->chunks;
    if (c && c->mapped && (char *)p == c->base + c->last && c->last + n <= c->used)
        c->used = c->last + n;
}

void fa_large_arena_trim(fa_large_arena *a)
{
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
    fa_large_chunk *c = a->chunks;
    if (c && c->mapped) {
        const size_t keep = round_up(c->used ? c->used : 1, SMALL_PAGE);
        if (keep < c->mapped) {
            (void)munmap(c->base + keep, c->mapped - keep);
            c->mapped = keep;
        }
    }
#else
    (void)a;
#endif
}

void fa_large_arena_free(fa_large_arena *a)
{
    while (a->chunks) {
        fa_large_chunk *c = a->chunks;
        a->chunks = c->next;
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
        if (c->mapped)
            (void)munmap(c->base, c->mapped);
        else
#endif
            free(c->base);
        free(c);
    }
}

/* large.c - big, long-lived model tables on huge pages where the system offers them. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include <stdlib.h>
#include <sys/mman.h>

#include "core/core.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *fa_malloc_large(size_t n, fa_err *err, const char *what)
{
#ifdef MADV_HUGEPAGE
    /* Tens of MB written once at load (the CCNF Sigmas): with 4 KB pages every page's first
     * write is a fault, and in the VMs this runs on faults were a third of the load time. A
     * 2 MB-aligned block advised as huge-page memory takes one fault per 2 MB. Where the
     * advice is refused or unsupported the memory is ordinary. */
    if (n >= HUGE_PAGE) {
        void *p = NULL;
        size_t rounded = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        if (posix_memalign(&p, HUGE_PAGE, rounded) == 0) {
            (void)madvise(p, rounded, MADV_HUGEPAGE);
            return p;
        }
    }
#endif
    return fa_malloc(n, err, what);
}

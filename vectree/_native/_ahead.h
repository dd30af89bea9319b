/* Software prefetch for the code scan (included by _scan.c, after BlockView, before the kernels). */

/* Software prefetch a fixed distance ahead of a scan, over the byte ranges it will read in order: per planned
 * block its codes' lo and scale (code scans), squared norms, then its codes or vectors. Cold buckets sit in
 * DRAM at random places: the hardware prefetcher restarts at every 4 KB page and at every bucket, and a
 * query of 10 buckets spent as long waiting on those first lines as reading the rest. Only addresses inside
 * the blocks' own buffers (held for the call) are named. */
typedef struct {
    const BlockView *blocks;
    const int64_t *plan;
    Py_ssize_t p, j, dim;
    int part, codes;
    const char *at, *end;
} Ahead;

/* (measured on fashion-mnist's int8 codes, cold: 1 KB to 8 KB all won over none, 2 KB by a little) */
#define AHEAD_BYTES 2048

static int ahead_range(Ahead *a) { /* the next nonempty range to prefetch; 0 when none is left */
    for (;;) {
        if (a->j >= a->p) return 0;
        if (a->plan[a->j] < 0) {
            a->j++;
            continue;
        }
        const BlockView *b = a->blocks + a->plan[a->j];
        const char *s = NULL;
        int64_t len = 0;
        switch (a->part++) {
        case 0:
            if (a->codes) s = (const char *)b->code_lo, len = 4 * a->dim;
            break;
        case 1:
            if (a->codes) s = (const char *)b->code_scale, len = 4 * a->dim;
            break;
        case 2:
            if (b->sqnorms) s = (const char *)b->sqnorms, len = 4 * b->n;
            break;
        case 3:
            if (a->codes) s = (const char *)b->codes, len = b->n * a->dim;
            else s = (const char *)b->vectors, len = b->n * a->dim * b->width;
            break;
        default:
            a->j++;
            a->part = 0;
            continue;
        }
        if (s && len > 0) {
            a->at = s;
            a->end = s + len;
            return 1;
        }
    }
}

/* Prefetch the next ``bytes`` of the ranges (a line at a time). */
static inline void ahead_by(Ahead *a, int64_t bytes) {
    for (; bytes > 0; bytes -= 64) {
        if (a->at >= a->end && !ahead_range(a)) return;
        __builtin_prefetch(a->at, 0, 3);
        a->at += 64;
    }
}

static inline Ahead ahead_start(const BlockView *blocks, const int64_t *plan, Py_ssize_t p, Py_ssize_t dim, int codes) {
    Ahead a = {blocks, plan, p, 0, dim, 0, codes, NULL, NULL};
    ahead_by(&a, AHEAD_BYTES);
    return a;
}

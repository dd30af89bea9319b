/* RaBitQ scan (included by _scan.c after BlockView, Scratch, Cand and offer): one query over blocks that
 * hold 1-bit RaBitQ codes (vectree/format/codes.py writes them; Gao & Long, SIGMOD 2024), then exact
 * distances for the rows the estimate's error bound cannot rule out, as scan_codes does for int8.
 *
 * A row's code is (d / 64 words of sign bits, then 4 float32 factors f0..f3); d is the dim padded to a
 * power of two. The query is rotated once per call (rq_rotate, the same map as codes.rotate); per block,
 * v = R(q) - R(c) is cut into 4-bit steps (bit planes), so <sign bits, v> is 4 popcounts a word. With
 * y = <xbar, v> (xbar = (2 bits - 1) / sqrt(d)):
 *     <q, x> ~ <R q, R c> + f1 + f0 * y,  within eps * |v| * f2 (RaBitQ's bound, with high probability)
 *     plus f0 * 2 E / sqrt(d) (E = sum |v - its steps|: the query's rounding, always) and float slop.
 *
 * Memory: reads only the BlockViews' buffers (held by the caller for the call) and the scratch it
 * allocates (PyMem_Raw*, without the GIL).
 */

#define RABITQ_EPS 1.9f

static uint64_t rq_mix(uint64_t z) { /* splitmix64, as codes._signs */
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The rotation's signs for d <= RQ_SIGNS_MAX (bit i of word i / 64: dimension i is negated), made once at
 * import (rq_init, under the GIL, before any search); larger d computes them per call. */
#define RQ_SIGNS_MAX 4096
static uint64_t rq_signs[2][RQ_SIGNS_MAX / 64];

static void rq_init(void) {
    for (int s = 0; s < 2; s++)
        for (uint64_t i = 0; i < RQ_SIGNS_MAX; i++)
            if (rq_mix(((uint64_t)(s + 1) << 32) + i) & 1) rq_signs[s][i / 64] |= 1ULL << (i % 64);
}

static inline int rq_negated(int s, Py_ssize_t i) {
    return i < RQ_SIGNS_MAX ? (int)(rq_signs[s][i / 64] >> (i % 64) & 1) : (int)(rq_mix(((uint64_t)(s + 1) << 32) + (uint64_t)i) & 1);
}

static void rq_hadamard(float *x, Py_ssize_t d) { /* in place, unnormalised */
    for (Py_ssize_t h = 1; h < d; h *= 2)
        for (Py_ssize_t i = 0; i < d; i += 2 * h)
            for (Py_ssize_t j = i; j < i + h; j++) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

/* out (d,) = codes.rotate(q): signs, Hadamard, signs, Hadamard, each Hadamard scaled by 1 / sqrt(d) */
static void rq_rotate(const float *q, Py_ssize_t dim, Py_ssize_t d, float *out) {
    for (Py_ssize_t i = 0; i < d; i++) out[i] = i < dim ? (rq_negated(0, i) ? -q[i] : q[i]) : 0.0f;
    rq_hadamard(out, d);
    for (Py_ssize_t i = 0; i < d; i++)
        if (rq_negated(1, i)) out[i] = -out[i];
    rq_hadamard(out, d);
    const float s = 1.0f / (float)d;
    for (Py_ssize_t i = 0; i < d; i++) out[i] *= s;
}

static void rq_heap_up(Cand *h, Py_ssize_t i) {
    while (i > 0) {
        const Py_ssize_t parent = (i - 1) / 2;
        if (h[parent].low >= h[i].low) break;
        const Cand t = h[parent];
        h[parent] = h[i];
        h[i] = t;
        i = parent;
    }
}

static void rq_heap_replace(Cand *h, Py_ssize_t n, Cand c) { /* the largest low leaves, c enters */
    Py_ssize_t i = 0;
    for (;;) {
        Py_ssize_t l = 2 * i + 1, r = l + 1, m = i;
        float top = c.low;
        if (l < n && h[l].low > top) m = l, top = h[l].low;
        if (r < n && h[r].low > top) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = c;
}

static int scan_rabitq(const float *q, Py_ssize_t dim, int metric, const BlockView *blocks, const int64_t *plan,
                       Py_ssize_t p, TopK *t, Scratch *sc, int64_t *counts) {
    Py_ssize_t d = 0;
    for (Py_ssize_t j = 0; j < p && !d; j++)
        if (plan[j] >= 0 && blocks[plan[j]].n > 0) d = (Py_ssize_t)blocks[plan[j]].rq_dim;
    if (!d) return 0; /* no rows */
    if (sc->rq_cap < d) {
        PyMem_RawFree(sc->rq);
        PyMem_RawFree(sc->planes);
        sc->rq = PyMem_RawMalloc(sizeof(float) * 2 * d);
        sc->planes = PyMem_RawMalloc(sizeof(uint64_t) * 4 * (d / 64));
        sc->rq_cap = sc->rq && sc->planes ? d : 0;
        if (!sc->rq_cap) return -1;
    }
    const Py_ssize_t k = t->k, words = d / 64, width = d / 8 + 16;
    const float eps = sc->eps > 0.0f ? sc->eps : RABITQ_EPS, isd = 1.0f / sqrtf((float)d);
    float *qr = sc->rq, *v = sc->rq + d;
    uint64_t *pl = sc->planes;
    rq_rotate(q, dim, d, qr);
    TopK u = {sc->ud, sc->ur, k, 0, 0}; /* the k smallest upper bounds */
    for (Py_ssize_t j = 0; j < t->filled; j++) offer(&u, t->d[j], t->ref[j]);
    Py_ssize_t nc = 0;
    const Py_ssize_t limit = sc->rerank; /* > 0: at most this many candidates are kept */
    int64_t scanned = 0;
    for (Py_ssize_t j = 0; j < p; j++) {
        if (plan[j] < 0) continue;
        const BlockView *b = blocks + plan[j];
        if (b->n == 0) continue;
        const float *cc = b->code_lo, *s = b->sqnorms;
        const char *dm = b->dead;
        const int64_t slot = b->slot << 32;
        float qc = 0.0f, vv = 0.0f, vsum = 0.0f, vmin = INFINITY, vmax = -INFINITY, mag = 0.0f;
        for (Py_ssize_t i = 0; i < d; i++) {
            const float x = qr[i] - cc[i];
            v[i] = x;
            qc += qr[i] * cc[i];
            mag += fabsf(qr[i] * cc[i]);
            vv += x * x;
            vsum += x;
            vmin = fminf(vmin, x);
            vmax = fmaxf(vmax, x);
        }
        const float delta = vmax > vmin ? (vmax - vmin) / 15.0f : 1.0f, inv = 1.0f / delta;
        float e = 0.0f; /* sum |v_i - (vmin + delta * step_i)| */
        for (Py_ssize_t w = 0; w < words; w++) {
            uint64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;
            for (int i = 0; i < 64; i++) {
                const float x = v[w * 64 + i];
                float st = rintf((x - vmin) * inv);
                st = st < 0.0f ? 0.0f : (st > 15.0f ? 15.0f : st);
                e += fabsf(x - (vmin + delta * st));
                const uint64_t u4 = (uint64_t)st;
                p0 |= (u4 & 1) << i;
                p1 |= (u4 >> 1 & 1) << i;
                p2 |= (u4 >> 2 & 1) << i;
                p3 |= (u4 >> 3 & 1) << i;
            }
            pl[w] = p0;
            pl[words + w] = p1;
            pl[2 * words + w] = p2;
            pl[3 * words + w] = p3;
        }
        const float nv = sqrtf(vv), f = metric == 0 ? 2.0f : 1.0f;
        const float qerr = 2.0f * e * isd * 1.0001f;
        for (int64_t i = 0; i < b->n; i++) {
            if (dm && dm[i]) continue;
            const uint8_t *row = b->codes + i * width;
            int64_t pop = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (Py_ssize_t w = 0; w < words; w++) {
                uint64_t bits;
                memcpy(&bits, row + 8 * w, 8);
                pop += __builtin_popcountll(bits);
                s0 += __builtin_popcountll(bits & pl[w]);
                s1 += __builtin_popcountll(bits & pl[words + w]);
                s2 += __builtin_popcountll(bits & pl[2 * words + w]);
                s3 += __builtin_popcountll(bits & pl[3 * words + w]);
            }
            float fac[4];
            memcpy(fac, row + d / 8, 16);
            const float sel = vmin * (float)pop + delta * (float)(s0 + 2 * s1 + 4 * s2 + 8 * s3);
            const float y = (2.0f * sel - vsum) * isd;
            const float est = qc + fac[1] + fac[0] * y;
            const float slop = 1e-5f * (mag + fabsf(fac[1]) + fac[0] * (fabsf(y) + nv)) + 1e-30f;
            const float err = f * (eps * nv * fac[2] + fac[0] * qerr + slop);
            const float approx = metric == 0 ? s[i] - 2.0f * est : -est;
            const float ei = metric == 0 ? err + 4e-7f * fabsf(s[i]) : err;
            const float low = approx - ei;
            scanned++;
            if (u.filled == k && low > u.d[u.worst]) continue;
            if (u.filled < k || approx + ei < u.d[u.worst]) offer(&u, approx + ei, slot | i);
            const Cand cand = {low, (int32_t)plan[j], (int32_t)i};
            if (limit > 0 && nc == limit) { /* capped: keep the limit smallest bounds (a max-heap on low) */
                if (low >= sc->cand[0].low) continue;
                rq_heap_replace(sc->cand, nc, cand);
                continue;
            }
            if (push_cand(sc, &nc, cand) < 0) return -1;
            if (limit > 0) rq_heap_up(sc->cand, nc - 1);
        }
    }
    counts[0] += scanned;
    const float cut = u.filled == k ? u.d[u.worst] : INFINITY;
    Py_ssize_t kept = 0;
    for (Py_ssize_t c = 0; c < nc; c++)
        if (sc->cand[c].low <= cut) sc->cand[kept++] = sc->cand[c];
    if (sc->collect) { /* codes_candidates: the caller reads the rows (a two-phase read) */
        sc->kept = kept;
        return 0;
    }
    rerank_rows(q, dim, metric, blocks, t, sc, kept, counts); /* exact distances, as scan_one's */
    return 0;
}

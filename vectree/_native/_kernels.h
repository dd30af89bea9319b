/* The inner loops of _scan.c, compiled twice: once for AVX2 + FMA + F16C (KERNEL_WIDE 1) and once
 * for whatever the compiler targets by default (KERNEL_WIDE 0); _scan.c picks one when the module
 * loads, from what the CPU reports, so a build made on one machine runs on another.
 *
 * Included with KERNEL_ATTR (a target attribute or nothing), SFX(name) (the variant's suffix) and
 * KERNEL_WIDE defined. Every pointer these functions read comes from a buffer the caller holds.
 */

/* Four independent sums over 32 floats at a time, so the multiply-adds overlap instead of waiting on
 * one another; then 8 at a time into the first; one horizontal sum per row (at 50-d it was a third of
 * the work); then the last few floats. */
static inline KERNEL_ATTR float SFX(dot)(const float *a, const float *b, Py_ssize_t n) {
    Py_ssize_t j = 0;
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (; j + 32 <= n; j += 32) {
        s0 += *(const v8 *)(a + j) * *(const v8 *)(b + j);
        s1 += *(const v8 *)(a + j + 8) * *(const v8 *)(b + j + 8);
        s2 += *(const v8 *)(a + j + 16) * *(const v8 *)(b + j + 16);
        s3 += *(const v8 *)(a + j + 24) * *(const v8 *)(b + j + 24);
    }
    for (; j + 8 <= n; j += 8) s0 += *(const v8 *)(a + j) * *(const v8 *)(b + j);
    v8 t = (s0 + s1) + (s2 + s3);
    float s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
    for (; j < n; j++) s += a[j] * b[j];
    return s;
}

static inline KERNEL_ATTR float SFX(half)(uint16_t h) {
#if KERNEL_WIDE || defined(__F16C__)
    return _cvtsh_ss(h);
#else
    return half_to_float_soft(h);
#endif
}

/* dot() with b stored as float16: the same sums, each 8 values widened in one instruction. */
static inline KERNEL_ATTR float SFX(dot_half)(const float *a, const uint16_t *b, Py_ssize_t n) {
    Py_ssize_t j = 0;
    float s = 0.0f;
#if KERNEL_WIDE
#define WIDE(p) ((v8)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p))))
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (; j + 32 <= n; j += 32) {
        s0 += *(const v8 *)(a + j) * WIDE(b + j);
        s1 += *(const v8 *)(a + j + 8) * WIDE(b + j + 8);
        s2 += *(const v8 *)(a + j + 16) * WIDE(b + j + 16);
        s3 += *(const v8 *)(a + j + 24) * WIDE(b + j + 24);
    }
    for (; j + 8 <= n; j += 8) s0 += *(const v8 *)(a + j) * WIDE(b + j);
#undef WIDE
    v8 t = (s0 + s1) + (s2 + s3);
    s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
#endif
    for (; j < n; j++) s += a[j] * SFX(half)(b[j]);
    return s;
}

/* One query over the blocks its plan names (plan[j] indexes blocks, -1 skips); returns rows read. */
static KERNEL_ATTR int64_t SFX(scan_one)(const float *q, Py_ssize_t dim, int metric, const BlockView *blocks,
                                          const int64_t *plan, Py_ssize_t p, TopK *t) {
    int64_t read = 0;
    for (Py_ssize_t j = 0; j < p; j++) {
        if (plan[j] < 0) continue;
        const BlockView *b = blocks + plan[j];
        const float *s = b->sqnorms;
        const char *dm = b->dead;
        const int64_t slot = b->slot << 32;
        if (b->width == 2) {
            const uint16_t *v = (const uint16_t *)b->vectors;
            for (int64_t i = 0; i < b->n; i++) {
                if (dm && dm[i]) continue;
                const float ip = SFX(dot_half)(q, v + i * dim, dim), d = metric == 0 ? s[i] - 2.0f * ip : -ip;
                read++;
                if (t->filled == t->k && d > t->d[t->worst]) continue; /* the common case, decided inline */
                offer(t, d, slot | i);
            }
        } else {
            const float *v = (const float *)b->vectors;
            for (int64_t i = 0; i < b->n; i++) {
                if (dm && dm[i]) continue;
                const float ip = SFX(dot)(q, v + i * dim, dim), d = metric == 0 ? s[i] - 2.0f * ip : -ip;
                read++;
                if (t->filled == t->k && d > t->d[t->worst]) continue; /* the common case, decided inline */
                offer(t, d, slot | i);
            }
        }
    }
    return read;
}

/* <qs, codes> for one row of int8 scalar codes (uint8 values 0..255): 16 codes widened a step. */
static inline KERNEL_ATTR float SFX(dot_codes)(const float *a, const uint8_t *c, Py_ssize_t n) {
    Py_ssize_t j = 0;
    float s = 0.0f;
#if KERNEL_WIDE
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (; j + 32 <= n; j += 32) {
        __m128i x = _mm_loadu_si128((const __m128i *)(c + j)), y = _mm_loadu_si128((const __m128i *)(c + j + 16));
        s0 += *(const v8 *)(a + j) * (v8)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x));
        s1 += *(const v8 *)(a + j + 8) * (v8)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(x, 8)));
        s2 += *(const v8 *)(a + j + 16) * (v8)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(y));
        s3 += *(const v8 *)(a + j + 24) * (v8)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(y, 8)));
    }
    for (; j + 8 <= n; j += 8)
        s0 += *(const v8 *)(a + j) * (v8)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + j))));
    v8 t = (s0 + s1) + (s2 + s3);
    s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
#endif
    for (; j < n; j++) s += a[j] * (float)c[j];
    return s;
}

/* One query over its planned blocks through their int8 codes, then exact distances for the rows the
 * codes cannot rule out (see topk_codes in _scan.c): the same top k as scan_one, fewer bytes read. */
static KERNEL_ATTR int SFX(scan_codes)(const float *q, Py_ssize_t dim, int metric, const BlockView *blocks,
                                      const int64_t *plan, Py_ssize_t p, TopK *t, Scratch *sc, int64_t *counts) {
    const Py_ssize_t k = t->k;
    TopK u = {sc->ud, sc->ur, k, 0, 0}; /* the k smallest upper bounds: the k-th exact is at most u's worst */
    for (Py_ssize_t j = 0; j < t->filled; j++) offer(&u, t->d[j], t->ref[j]);
    Py_ssize_t nc = 0;
    float *qs = sc->qs;
    const float f = metric == 0 ? 2.0f : 1.0f;
    for (Py_ssize_t j = 0; j < p; j++) {
        if (plan[j] < 0) continue;
        const BlockView *b = blocks + plan[j];
        const float *lo = b->code_lo, *sc_ = b->code_scale, *s = b->sqnorms;
        const char *dm = b->dead;
        const int64_t slot = b->slot << 32;
        float c0 = 0.0f, e = 0.0f, m = 0.0f;
        for (Py_ssize_t d = 0; d < dim; d++) {
            qs[d] = q[d] * sc_[d];
            c0 += q[d] * lo[d];
            e += fabsf(qs[d]);
            m += fabsf(q[d]) * (fabsf(lo[d]) + 255.0f * sc_[d]);
        }
        /* |<q,x> - (c0 + <qs,c>)| <= sum |q_d| scale_d / 2, plus float rounding in either sum */
        const float err = f * (0.5f * e * 1.0001f + 2e-6f * m + 1e-30f);
        for (int64_t i = 0; i < b->n; i++) {
            if (dm && dm[i]) continue;
            const float a = c0 + SFX(dot_codes)(qs, b->codes + i * dim, dim);
            const float approx = metric == 0 ? s[i] - 2.0f * a : -a;
            const float ei = metric == 0 ? err + 4e-7f * fabsf(s[i]) : err;
            const float low = approx - ei;
            counts[0]++;
            if (u.filled == k && low > u.d[u.worst]) continue; /* the common case, decided inline */
            if (nc == sc->cap) {
                Py_ssize_t cap = sc->cap ? 2 * sc->cap : 1024;
                Cand *grown = PyMem_RawRealloc(sc->cand, sizeof(Cand) * cap);
                if (!grown) return -1;
                sc->cand = grown;
                sc->cap = cap;
            }
            sc->cand[nc++] = (Cand){low, (int32_t)plan[j], (int32_t)i};
            if (u.filled < k || approx + ei < u.d[u.worst]) offer(&u, approx + ei, slot | i);
        }
    }
    /* the candidates whose lower bound reaches below the k-th upper bound, nearest first, exactly */
    const float cut = u.filled == k ? u.d[u.worst] : INFINITY;
    Py_ssize_t kept = 0;
    for (Py_ssize_t c = 0; c < nc; c++)
        if (sc->cand[c].low <= cut) sc->cand[kept++] = sc->cand[c];
    qsort(sc->cand, kept, sizeof(Cand), cand_low_order);
    for (Py_ssize_t c = 0; c < kept; c++) {
        const Cand *x = sc->cand + c;
        if (t->filled == k && x->low > t->d[t->worst]) break; /* no row left can beat the k-th */
        const BlockView *b = blocks + x->block;
        float ip = b->width == 2 ? SFX(dot_half)(q, (const uint16_t *)b->vectors + (int64_t)x->row * dim, dim)
                                 : SFX(dot)(q, (const float *)b->vectors + (int64_t)x->row * dim, dim);
        offer(t, metric == 0 ? b->sqnorms[x->row] - 2.0f * ip : -ip, (b->slot << 32) | x->row);
        counts[1]++;
    }
    return 0;
}

static KERNEL_ATTR void SFX(widen)(const uint16_t *src, float *dst, Py_ssize_t n) {
    Py_ssize_t j = 0;
#if KERNEL_WIDE
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(dst + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + j))));
#endif
    for (; j < n; j++) dst[j] = SFX(half)(src[j]);
}

static KERNEL_ATTR float SFX(dot_out)(const float *a, const float *b, Py_ssize_t n) { return SFX(dot)(a, b, n); }

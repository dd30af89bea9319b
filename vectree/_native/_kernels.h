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

/* <qi, codes> exactly, in integers: the query's int16 steps times the row's uint8 codes, 16 products
 * summed in pairs per instruction (madd). The caller keeps |qi| small enough that no sum overflows. */
static inline KERNEL_ATTR int32_t SFX(dot_codes_int)(const int16_t *a, const uint8_t *c, Py_ssize_t n) {
    Py_ssize_t j = 0;
    int32_t s = 0;
#if KERNEL_WIDE
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    for (; j + 32 <= n; j += 32) {
        const __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
        const __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(a + j))));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(a + j + 16))));
    }
    for (; j + 16 <= n; j += 16) {
        const __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(a + j))));
    }
    const __m256i t = _mm256_add_epi32(s0, s1);
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    s = _mm_cvtsi128_si32(x);
#endif
    for (; j < n; j++) s += (int32_t)a[j] * (int32_t)c[j];
    return s;
}

#if KERNEL_WIDE
/* <qi, codes> of eight consecutive rows at once (row r at c + r * dim): each 16 steps of the query are
 * loaded once for all eight, and one reduction sums all eight (one per row cost as much as the products at
 * 50-d). Runs over dim rounded up to 16: it reads up to 15 bytes past the eighth row, which the caller keeps
 * inside the codes buffer, and qi is zero past dim (QI_LEN), so those bytes add nothing. */
static inline KERNEL_ATTR __m256i SFX(dot_codes_8)(const int16_t *qi, const uint8_t *c, Py_ssize_t dim) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (Py_ssize_t j = 0; j < dim; j += 16) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(qi + j));
#define ROW(r, acc) \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + (r) * dim + j))), w))
        ROW(0, a0);
        ROW(1, a1);
        ROW(2, a2);
        ROW(3, a3);
        ROW(4, a4);
        ROW(5, a5);
        ROW(6, a6);
        ROW(7, a7);
#undef ROW
    }
    /* pairwise sums: lane r of the result is row r's total */
    const __m256i u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    const __m256i u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a4, a5), _mm256_hadd_epi32(a6, a7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}
#endif

/* The first ``kept`` candidates of sc->cand, nearest lower bound first, read in full into t until no bound
 * left can beat the k-th exact distance (or sc->rerank rows are read): the rows' exact distances, as scan_one
 * computes them. counts[1] counts the rows read. */
static KERNEL_ATTR void SFX(rerank_rows)(const float *q, Py_ssize_t dim, int metric, const BlockView *blocks, TopK *t,
                                         Scratch *sc, Py_ssize_t kept, int64_t *counts) {
    const Py_ssize_t k = t->k;
    qsort(sc->cand, kept, sizeof(Cand), cand_low_order);
    /* the rows most likely read, requested together: they sit at random places in cold buckets */
    const Py_ssize_t soon = kept < 2 * k ? kept : 2 * k;
    for (Py_ssize_t c = 0; c < soon; c++) {
        const BlockView *b = blocks + sc->cand[c].block;
        const char *row = (const char *)b->vectors + (int64_t)sc->cand[c].row * dim * b->width;
        for (Py_ssize_t o = 0; o < dim * b->width; o += 64) __builtin_prefetch(row + o, 0, 3);
    }
    for (Py_ssize_t c = 0; c < kept; c++) {
        const Cand *x = sc->cand + c;
        if (t->filled == k && x->low > t->d[t->worst]) break; /* no row left can beat the k-th */
        if (sc->rerank > 0 && c >= sc->rerank) break;         /* the caller's cap on rows read in full */
        const BlockView *b = blocks + x->block;
        float ip = b->width == 2 ? SFX(dot_half)(q, (const uint16_t *)b->vectors + (int64_t)x->row * dim, dim)
                                 : SFX(dot)(q, (const float *)b->vectors + (int64_t)x->row * dim, dim);
        offer(t, metric == 0 ? b->sqnorms[x->row] - 2.0f * ip : -ip, (b->slot << 32) | x->row);
        counts[1]++;
    }
}

/* One query over its planned blocks through their int8 codes, then exact distances for the rows the
 * codes cannot rule out (see topk_codes in _scan.c): the same top k as scan_one, fewer bytes read. */
static KERNEL_ATTR int SFX(scan_codes)(const float *q, Py_ssize_t dim, int metric, const BlockView *blocks,
                                      const int64_t *plan, Py_ssize_t p, TopK *t, Scratch *sc, int64_t *counts) {
    const Py_ssize_t k = t->k;
    TopK u = {sc->ud, sc->ur, k, 0, 0}; /* the k smallest upper bounds: the k-th exact is at most u's worst */
    for (Py_ssize_t j = 0; j < t->filled; j++) offer(&u, t->d[j], t->ref[j]);
    Py_ssize_t nc = 0;
    int64_t scanned = 0; /* (a local: counts[0]++ here was a store and reload every row) */
    float *qs = sc->qs;
    int16_t *qi = sc->qi;
    const float f = metric == 0 ? 2.0f : 1.0f;
    Ahead ahead = ahead_start(blocks, plan, p, dim, 1);
    for (Py_ssize_t j = 0; j < p; j++) {
        if (plan[j] < 0) continue;
        const BlockView *b = blocks + plan[j];
        const float *lo = b->code_lo, *sc_ = b->code_scale, *s = b->sqnorms;
        ahead_by(&ahead, 8 * dim + (s ? 4 * b->n : 0));
        const char *dm = b->dead;
        const int64_t slot = b->slot << 32;
        float c0 = 0.0f, e = 0.0f, m = 0.0f, top = 0.0f;
        Py_ssize_t d0 = 0;
#if KERNEL_WIDE
        {
            const __m256 sign = _mm256_set1_ps(-0.0f), w255 = _mm256_set1_ps(255.0f);
            __m256 vc = _mm256_setzero_ps(), ve = vc, vm = vc, vt = vc;
            for (; d0 + 8 <= dim; d0 += 8) {
                const __m256 qv = _mm256_loadu_ps(q + d0), sv = _mm256_loadu_ps(sc_ + d0), lv = _mm256_loadu_ps(lo + d0);
                const __m256 v = _mm256_mul_ps(qv, sv), av = _mm256_andnot_ps(sign, v);
                _mm256_storeu_ps(qs + d0, v);
                vc = _mm256_fmadd_ps(qv, lv, vc);
                ve = _mm256_add_ps(ve, av);
                vm = _mm256_fmadd_ps(_mm256_andnot_ps(sign, qv), _mm256_fmadd_ps(w255, sv, _mm256_andnot_ps(sign, lv)), vm);
                vt = _mm256_max_ps(vt, av);
            }
            float tc[8], te[8], tm[8], tt[8];
            _mm256_storeu_ps(tc, vc);
            _mm256_storeu_ps(te, ve);
            _mm256_storeu_ps(tm, vm);
            _mm256_storeu_ps(tt, vt);
            for (int l = 0; l < 8; l++) {
                c0 += tc[l];
                e += te[l];
                m += tm[l];
                top = tt[l] > top ? tt[l] : top;
            }
        }
#endif
        for (Py_ssize_t d = d0; d < dim; d++) {
            const float v = q[d] * sc_[d];
            qs[d] = v;
            c0 += q[d] * lo[d];
            e += fabsf(v);
            m += fabsf(q[d]) * (fabsf(lo[d]) + 255.0f * sc_[d]);
            top = fabsf(v) > top ? fabsf(v) : top;
        }
        /* qs in integer steps of delta (|qi| <= sc->qmax): <qs,c> = delta <qi,c> + <r,c>, |<r,c>| <= 255 sum |r| */
        const float hi = (float)sc->qmax, delta = top > 0.0f ? top / hi : 1.0f, inv = top > 0.0f ? hi / top : 1.0f;
        float rs = 0.0f;
        for (Py_ssize_t d = 0; d < dim; d++) { /* (plain loops: the compiler vectorises them) */
            float v = rintf(qs[d] * inv);
            v = v > hi ? hi : (v < -hi ? -hi : v);
            qi[d] = (int16_t)v;
            rs += fabsf(qs[d] - delta * v);
        }
        /* |<q,x> - (c0 + delta <qi,c>)| <= sum |q_d| scale_d / 2 + 255 sum |r_d|, plus float rounding */
        const float err = f * (0.5f * e * 1.0001f + 255.0f * rs * 1.0001f + 4e-6f * m + 1e-30f);
        int64_t i = 0;
#if KERNEL_WIDE
        /* eight rows at a time, while the bytes dot_codes_8 reads past the eighth row (pad) are the block's */
        /* (below 256-d: at 50-d it halved the scan; at 384-d and 784-d cold rows read one at a time were faster) */
        const int64_t pad = (16 - dim % 16) % 16, whole = dim >= 256 ? 0 : b->n - (pad + dim - 1) / dim;
        const __m256 vc0 = _mm256_set1_ps(c0), vdelta = _mm256_set1_ps(delta), verr = _mm256_set1_ps(err);
        const __m256 two = _mm256_set1_ps(2.0f), tiny = _mm256_set1_ps(4e-7f), sign = _mm256_set1_ps(-0.0f);
        for (; i + 8 <= whole; i += 8) {
            ahead_by(&ahead, 8 * dim);
            const __m256 a =
                _mm256_add_ps(vc0, _mm256_mul_ps(vdelta, _mm256_cvtepi32_ps(SFX(dot_codes_8)(qi, b->codes + i * dim, dim))));
            __m256 approx, ei;
            if (metric == 0) {
                const __m256 sv = _mm256_loadu_ps(s + i);
                approx = _mm256_sub_ps(sv, _mm256_mul_ps(two, a));
                ei = _mm256_add_ps(verr, _mm256_mul_ps(tiny, _mm256_andnot_ps(sign, sv)));
            } else {
                approx = _mm256_xor_ps(a, sign);
                ei = verr;
            }
            const __m256 low = _mm256_sub_ps(approx, ei);
            int live = 0xff;
            if (dm)
                for (int r = 0; r < 8; r++)
                    if (dm[i + r]) live &= ~(1 << r);
            scanned += __builtin_popcount(live);
            /* rows whose bound cannot beat the k-th upper bound now cannot later either (it only falls) */
            const float thr = u.filled == k ? u.d[u.worst] : INFINITY;
            int pass = live & _mm256_movemask_ps(_mm256_cmp_ps(low, _mm256_set1_ps(thr), _CMP_NGT_UQ));
            if (!pass) continue;
            float lows[8], approxs[8], eis[8];
            _mm256_storeu_ps(lows, low);
            _mm256_storeu_ps(approxs, approx);
            _mm256_storeu_ps(eis, ei);
            for (; pass; pass &= pass - 1) {
                const int r = __builtin_ctz(pass);
                if (u.filled == k && lows[r] > u.d[u.worst]) continue;
                if (push_cand(sc, &nc, (Cand){lows[r], (int32_t)plan[j], (int32_t)(i + r)}) < 0) return -1;
                if (u.filled < k || approxs[r] + eis[r] < u.d[u.worst]) offer(&u, approxs[r] + eis[r], slot | (i + r));
            }
        }
#endif
        for (; i < b->n; i++) {
            ahead_by(&ahead, dim);
            if (dm && dm[i]) continue;
            const float a = c0 + delta * (float)SFX(dot_codes_int)(qi, b->codes + i * dim, dim);
            const float approx = metric == 0 ? s[i] - 2.0f * a : -a;
            const float ei = metric == 0 ? err + 4e-7f * fabsf(s[i]) : err;
            const float low = approx - ei;
            scanned++;
            if (u.filled == k && low > u.d[u.worst]) continue; /* the common case, decided inline */
            if (push_cand(sc, &nc, (Cand){low, (int32_t)plan[j], (int32_t)i}) < 0) return -1;
            if (u.filled < k || approx + ei < u.d[u.worst]) offer(&u, approx + ei, slot | i);
        }
    }
    counts[0] += scanned;
    /* the candidates whose lower bound reaches below the k-th upper bound, nearest first, exactly */
    const float cut = u.filled == k ? u.d[u.worst] : INFINITY;
    Py_ssize_t kept = 0;
    for (Py_ssize_t c = 0; c < nc; c++)
        if (sc->cand[c].low <= cut) sc->cand[kept++] = sc->cand[c];
    if (sc->collect) { /* codes_candidates: the caller reads the rows (a two-phase read) */
        sc->kept = kept;
        return 0;
    }
    SFX(rerank_rows)(q, dim, metric, blocks, t, sc, kept, counts);
    return 0;
}

static KERNEL_ATTR void SFX(widen)(const uint16_t *src, float *dst, Py_ssize_t n) {
    Py_ssize_t j = 0;
#if KERNEL_WIDE
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(dst + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + j))));
#endif
    for (; j < n; j++) dst[j] = SFX(half)(src[j]);
}

/* out[r] = <rows + r * n, b> for r < count: eight rows at a time, each 8 floats of b loaded once for all eight
 * and one reduction for all eight (at n = 32, the reduction of one row at a time cost more than its products);
 * the rest one at a time. */
static KERNEL_ATTR void SFX(dots)(const float *rows, Py_ssize_t count, const float *b, Py_ssize_t n, float *out) {
    Py_ssize_t r = 0;
#if KERNEL_WIDE
    const Py_ssize_t whole = n - n % 8;
    for (; r + 8 <= count; r += 8) {
        const float *x = rows + r * n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (Py_ssize_t j = 0; j < whole; j += 8) {
            const __m256 w = _mm256_loadu_ps(b + j);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), w, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + n + j), w, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 2 * n + j), w, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 3 * n + j), w, a3);
            a4 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 4 * n + j), w, a4);
            a5 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 5 * n + j), w, a5);
            a6 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 6 * n + j), w, a6);
            a7 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 7 * n + j), w, a7);
        }
        const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
        __m256 t = _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
        if (whole < n) {
            float tail[8];
            _mm256_storeu_ps(tail, t);
            for (int l = 0; l < 8; l++)
                for (Py_ssize_t j = whole; j < n; j++) tail[l] += x[l * n + j] * b[j];
            t = _mm256_loadu_ps(tail);
        }
        _mm256_storeu_ps(out + r, t);
    }
#endif
    for (; r < count; r++) out[r] = SFX(dot)(rows + r * n, b, n);
}

static KERNEL_ATTR float SFX(dot_out)(const float *a, const float *b, Py_ssize_t n) { return SFX(dot)(a, b, n); }

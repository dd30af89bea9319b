/* The top-k scan of one query over many cached blocks, in one call (see vectree/collection/kernel.py),
 * and the exact ranking of one query's nearest bucket centers (see vectree/index/centers.py).
 *
 * A block is described by one row of 6 int64: the addresses of its vectors (n, dim), squared norms
 * (n,) or 0 (read for l2 only) and bool dead mask (n,) or 0; then n, the block's slot number and the
 * bytes per vector value: 4 (float32) or 2 (float16, widened to float32 as it is read: half the
 * memory traffic for a scan that is memory-bound). Each query gets the k
 * best (partial distance, slot << 32 | row), unsorted. metric: 0 l2 (|x|^2 - 2<q,x>), 1 cosine and
 * 2 dot (-<q,x>). Every row of every block is read, in order: a sequential read is what memory serves
 * fastest (benchmarks/README.md records the exact pruning this replaced, which read fewer rows but
 * out of order, and lost).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __F16C__
#include <immintrin.h>
#endif

typedef struct {
    float *d;
    int64_t *ref;
    Py_ssize_t k, filled, worst;
} TopK;

static int worse(float da, int64_t ra, float db, int64_t rb) { return da > db || (da == db && ra > rb); }

/* Offer one candidate; returns 1 when the k-th best changed. */
static int offer(TopK *t, float d, int64_t ref) {
    if (t->filled < t->k) {
        t->d[t->filled] = d;
        t->ref[t->filled] = ref;
        t->filled++;
        if (t->filled < t->k) return 0;
    } else if (!worse(t->d[t->worst], t->ref[t->worst], d, ref)) {
        return 0;
    } else {
        t->d[t->worst] = d;
        t->ref[t->worst] = ref;
    }
    Py_ssize_t w = 0;
    for (Py_ssize_t j = 1; j < t->k; j++)
        if (worse(t->d[j], t->ref[j], t->d[w], t->ref[w])) w = j;
    t->worst = w;
    return 1;
}

/* Four independent sums over 32 floats at a time, so the multiply-adds overlap instead of waiting on
 * one another; then 8 at a time into the first; one horizontal sum per row (at 50-d it was a third of
 * the work); then the last few floats. */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

static float dot(const float *a, const float *b, Py_ssize_t n) {
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

/* IEEE half to float, for the last few values of a row (and every value without F16C). */
static float half_to_float(uint16_t h) {
#ifdef __F16C__
    return _cvtsh_ss(h);
#else
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) f = ldexpf((float)man, -24); /* zero or subnormal */
    else if (exp == 31) f = man ? NAN : INFINITY;
    else f = ldexpf((float)(man | 0x400), (int)exp - 25);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

/* dot() with b stored as float16: the same sums, each 8 values widened in one instruction. */
static float dot_half(const float *a, const uint16_t *b, Py_ssize_t n) {
    Py_ssize_t j = 0;
    float s = 0.0f;
#ifdef __F16C__
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
    for (; j < n; j++) s += a[j] * half_to_float(b[j]);
    return s;
}

typedef struct {
    const float *q;
    Py_ssize_t dim;
    int metric;
} Query;

static float finish(const Query *Q, float ip, float sqnorm) { return Q->metric == 0 ? sqnorm - 2.0f * ip : -ip; }

#define COLS 6
#define COL(b, c) blk[(b) * COLS + (c)]

/* One query over its blocks (rows of blk); returns the rows read. */
static int64_t scan_one(const Query *Q, const int64_t *blk, Py_ssize_t n_blocks, TopK *t) {
    int64_t read = 0;
    for (Py_ssize_t b = 0; b < n_blocks; b++) {
        const float *s = (const float *)COL(b, 1);
        const char *dm = (const char *)COL(b, 2);
        const int64_t slot = COL(b, 4) << 32;
        if (COL(b, 5) == 2) {
            const uint16_t *v = (const uint16_t *)COL(b, 0);
            for (int64_t i = 0; i < COL(b, 3); i++) {
                if (dm && dm[i]) continue;
                offer(t, finish(Q, dot_half(Q->q, v + i * Q->dim, Q->dim), s ? s[i] : 0.0f), slot | i);
                read++;
            }
        } else {
            const float *v = (const float *)COL(b, 0);
            for (int64_t i = 0; i < COL(b, 3); i++) {
                if (dm && dm[i]) continue;
                offer(t, finish(Q, dot(Q->q, v + i * Q->dim, Q->dim), s ? s[i] : 0.0f), slot | i);
                read++;
            }
        }
    }
    return read;
}

/* topk(queries, metric, blocks, out_d, out_ref, filled) -> rows read
 *
 * queries float32 (nq, dim); blocks int64 (nq, p, 6): query i's p blocks (rows with n = 0 are
 * skipped); out_d float32 (nq, k), out_ref int64 (nq, k), filled int64 (nq,) are read and written:
 * query i starts from the filled[i] candidates already there (0 for a fresh search), so a search can
 * run over its blocks in several calls and let each group of blocks go before the next is read.
 */
static PyObject *topk(PyObject *self, PyObject *args) {
    Py_buffer bq, bb, bod, bor, bf;
    int metric;
    if (!PyArg_ParseTuple(args, "y*iy*w*w*w*", &bq, &metric, &bb, &bod, &bor, &bf)) return NULL;
    Py_buffer *all[] = {&bq, &bb, &bod, &bor, &bf};
    const Py_ssize_t nq = bf.len / 8;
    int ok = nq > 0 && bq.len % (4 * nq) == 0 && bb.len % (8 * COLS * nq) == 0 && bod.len % (4 * nq) == 0 &&
             bod.len / 4 == bor.len / 8 && bod.len > 0 && metric >= 0 && metric <= 2;
    if (!ok) {
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
        PyErr_SetString(PyExc_ValueError, "topk: inconsistent shapes (see _scan.c)");
        return NULL;
    }
    const Py_ssize_t dim = bq.len / 4 / nq, p = bb.len / 8 / COLS / nq, k = bod.len / 4 / nq;
    int64_t read = 0, *filled = bf.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nq; i++) {
        Query Q = {(const float *)bq.buf + i * dim, dim, metric};
        TopK t = {(float *)bod.buf + i * k, (int64_t *)bor.buf + i * k, k, filled[i] < k ? filled[i] : k, 0};
        for (Py_ssize_t j = 1; j < t.filled; j++)
            if (worse(t.d[j], t.ref[j], t.d[t.worst], t.ref[t.worst])) t.worst = j;
        read += scan_one(&Q, (const int64_t *)bb.buf + i * p * COLS, p, &t);
        filled[i] = t.filled;
    }
    Py_END_ALLOW_THREADS
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    return PyLong_FromLongLong(read);
}

/* offer_rows(dist, qidx, slot, dead, out_d, out_ref, filled) -> None
 *
 * dist float32 (m, n): the partial distances of queries qidx (int64 (m,)) to the n rows of block
 * slot, from one matrix product; dead uint8 (n,) marks deleted rows (or is empty). Each query's
 * running top k in out_d / out_ref / filled (as topk's) takes the rows that beat its k-th.
 */
static PyObject *offer_rows(PyObject *self, PyObject *args) {
    Py_buffer bd, bqi, bdead, bod, bor, bf;
    long long slot;
    if (!PyArg_ParseTuple(args, "y*y*Ly*w*w*w*", &bd, &bqi, &slot, &bdead, &bod, &bor, &bf)) return NULL;
    Py_buffer *all[] = {&bd, &bqi, &bdead, &bod, &bor, &bf};
    const Py_ssize_t m = bqi.len / 8, nq = bf.len / 8, k = nq > 0 ? bod.len / 4 / nq : 0;
    const Py_ssize_t n = m > 0 ? bd.len / 4 / m : 0;
    int ok = nq > 0 && k > 0 && bod.len == 4 * nq * k && bor.len == 8 * nq * k && bd.len == 4 * m * n &&
             (bdead.len == 0 || bdead.len == n) && slot >= 0 && slot < (1LL << 31);
    const int64_t *qi = bqi.buf;
    for (Py_ssize_t i = 0; ok && i < m; i++) ok = qi[i] >= 0 && qi[i] < nq;
    if (!ok) {
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
        PyErr_SetString(PyExc_ValueError, "offer_rows: inconsistent shapes (see _scan.c)");
        return NULL;
    }
    const float *dist = bd.buf;
    const char *dead = bdead.len ? bdead.buf : NULL;
    int64_t *filled = bf.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < m; i++) {
        const int64_t q = qi[i];
        TopK t = {(float *)bod.buf + q * k, (int64_t *)bor.buf + q * k, k, filled[q] < k ? filled[q] : k, 0};
        for (Py_ssize_t j = 1; j < t.filled; j++)
            if (worse(t.d[j], t.ref[j], t.d[t.worst], t.ref[t.worst])) t.worst = j;
        const float *row = dist + i * n;
        for (Py_ssize_t j = 0; j < n; j++) {
            if (dead && dead[j]) continue;
            if (t.filled == k && row[j] > t.d[t.worst]) continue; /* the common case, decided inline */
            offer(&t, row[j], ((int64_t)slot << 32) | j);
        }
        filled[q] = t.filled;
    }
    Py_END_ALLOW_THREADS
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    Py_RETURN_NONE;
}

/* The m-th smallest of a[0..n) (m < n); a is reordered. */
static float select_nth(float *a, Py_ssize_t n, Py_ssize_t m) {
    Py_ssize_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        Py_ssize_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float tmp = a[i];
                a[i] = a[j];
                a[j] = tmp;
                i++;
                j--;
            }
        }
        if (m <= j) hi = j;
        else if (m >= i) lo = i;
        else return a[m];
    }
    return a[m];
}

/* rank_centers(q, mean, components, centers, norms, pc, pcsq, ec, empty, out) -> centers read in full
 *
 * The len(out) centers nearest q (float32 (dim,)), nearest first, ties by number, exactly as a full
 * product over every center would rank them. The projection is (x - mean) @ components.T (m, dim),
 * with orthonormal components; pc (L, m) holds the centers (L, dim) projected, pcsq (L,) their
 * squared norms and ec (L,) the norm of what the projection leaves out of each; norms (L,) are the
 * centers' squared norms; empty (L,) uint8 marks centers that come last. The bound
 * |pq - pc|^2 + (eq - ec)^2 never exceeds |q - c|^2, so only centers whose bound is below the
 * len(out)-th distance found are read in full.
 */
static PyObject *rank_centers(PyObject *self, PyObject *args) {
    Py_buffer bq, bmu, bpr, bc, bn, bpc, bps, bec, bem, bo;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*w*", &bq, &bmu, &bpr, &bc, &bn, &bpc, &bps, &bec, &bem, &bo))
        return NULL;
    Py_buffer *all[] = {&bq, &bmu, &bpr, &bc, &bn, &bpc, &bps, &bec, &bem, &bo};
    const Py_ssize_t dim = bq.len / 4, L = bn.len / 4, p = bo.len / 8, m = L > 0 ? bpc.len / 4 / L : 0;
    int ok = dim > 0 && L > 0 && p > 0 && p <= L && m > 0 && m <= 4096 && bmu.len == 4 * dim &&
             bpr.len == 4 * m * dim && bc.len == 4 * L * dim && bpc.len == 4 * L * m && bps.len == 4 * L &&
             bec.len == 4 * L && bem.len == L;
    if (!ok) {
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
        PyErr_SetString(PyExc_ValueError, "rank_centers: inconsistent shapes (see _scan.c)");
        return NULL;
    }
    const float *q = bq.buf, *mu = bmu.buf, *proj = bpr.buf, *c = bc.buf, *norms = bn.buf, *pc = bpc.buf, *pcsq = bps.buf, *ec = bec.buf;
    const char *empty = bem.buf;
    int64_t *out = bo.buf, read = 0;
    float *low = PyMem_RawMalloc(sizeof(float) * (L * 3 + m + dim));
    if (!low) {
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
        return PyErr_NoMemory();
    }
    float *scratch = low + L, *full = low + 2 * L, *pq = low + 3 * L, *centered = pq + m;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < dim; j++) centered[j] = q[j] - mu[j];
    for (Py_ssize_t a = 0; a < m; a++) pq[a] = dot(proj + a * dim, centered, dim);
    const float pqsq = dot(pq, pq, m), qsq = dot(q, q, dim), rest = dot(centered, centered, dim) - pqsq;
    const float eq = rest > 0.0f ? sqrtf(rest) : 0.0f;
    for (Py_ssize_t j = 0; j < L; j++) {
        float gap = eq - ec[j];
        low[j] = empty[j] ? INFINITY : pcsq[j] - 2.0f * dot(pc + j * m, pq, m) + pqsq + gap * gap;
        scratch[j] = low[j];
        full[j] = NAN; /* not read yet */
    }
    /* read the 2p + 8 smallest bounds, then every center whose bound is below the p-th distance */
    Py_ssize_t first = 2 * p + 8 < L ? 2 * p + 8 : L;
    float cut = select_nth(scratch, L, first - 1);
    float tk_d[64];
    int64_t tk_r[64];
    float *td = p <= 64 ? tk_d : PyMem_RawMalloc(sizeof(float) * p);
    int64_t *tr = p <= 64 ? tk_r : PyMem_RawMalloc(sizeof(int64_t) * p);
    TopK t = {td, tr, p, 0, 0};
    for (int phase = 0; phase < 2 && td && tr; phase++) {
        float limit = INFINITY;
        if (phase == 1 && t.filled == p) {
            float w = t.d[t.worst];
            limit = w + 1e-4f * fabsf(w) + 1e-6f; /* float32 rounding in both expressions */
        }
        for (Py_ssize_t j = 0; j < L; j++) {
            if (phase == 0 ? low[j] > cut : (!isnan(full[j]) || low[j] > limit)) continue;
            full[j] = empty[j] ? INFINITY : norms[j] - 2.0f * dot(c + j * dim, q, dim) + qsq;
            read++;
            offer(&t, full[j], j);
        }
        if (phase == 1) break;
    }
    /* phase 1 offered every center that could beat the p-th: sort the p kept by (distance, number) */
    Py_ssize_t n = t.filled;
    for (Py_ssize_t a = 1; a < n; a++) {
        float d = td[a];
        int64_t r = tr[a];
        Py_ssize_t b = a;
        for (; b > 0 && worse(td[b - 1], tr[b - 1], d, r); b--) {
            td[b] = td[b - 1];
            tr[b] = tr[b - 1];
        }
        td[b] = d;
        tr[b] = r;
    }
    for (Py_ssize_t a = 0; a < p; a++) out[a] = a < n ? tr[a] : -1;
    if (p > 64) {
        PyMem_RawFree(td);
        PyMem_RawFree(tr);
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(low);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    return PyLong_FromLongLong(read);
}

/* widen(src, dst): float16 values (src, as bytes) into float32 (dst, as many values), for the matrix
 * products of float16 buckets: numpy converts one value at a time (105 us for an 80 x 784 bucket,
 * more than the product itself); F16C converts 8 an instruction. */
static PyObject *widen(PyObject *self, PyObject *args) {
    Py_buffer bs, bd;
    if (!PyArg_ParseTuple(args, "y*w*", &bs, &bd)) return NULL;
    if (bs.len % 2 || bd.len != 2 * bs.len) {
        PyBuffer_Release(&bs);
        PyBuffer_Release(&bd);
        PyErr_SetString(PyExc_ValueError, "widen: dst must hold one float32 for each float16 of src");
        return NULL;
    }
    const uint16_t *src = bs.buf;
    float *dst = bd.buf;
    const Py_ssize_t n = bs.len / 2;
    Py_ssize_t j = 0;
    Py_BEGIN_ALLOW_THREADS
#ifdef __F16C__
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(dst + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + j))));
#endif
    for (; j < n; j++) dst[j] = half_to_float(src[j]);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&bs);
    PyBuffer_Release(&bd);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"widen", widen, METH_VARARGS, "float16 values into float32 (see the module source)."},
    {"topk", topk, METH_VARARGS, "Top-k of each query over its blocks (see the module source)."},
    {"offer_rows", offer_rows, METH_VARARGS, "Fold a block's distance matrix into running top-k lists (see the module source)."},
    {"rank_centers", rank_centers, METH_VARARGS, "The nearest centers of one query, exactly (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Compiled block scan.", -1, methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }

/* The top-k scan of one query over many cached blocks, in one call (see kernel.py for the why).
 *
 * A block is described by one row of 8 int64: the addresses of its float32 vectors (n, dim) and squared
 * norms (n,), of its bool dead mask (n,) or 0, of its projected rows (n, r), their squared norms and
 * residual norms (or 0, 0, 0: read every row in full); then n and the block's slot number.
 * Each query gets the k best (partial distance, slot << 32 | row), unsorted. metric: 0 l2
 * (|x|^2 - 2<q,x>), 1 cosine and 2 dot (-<q,x>).
 *
 * With prune, every row's lower bound |P(q - x)|^2 + (e_q - e_x)^2 is computed first; the 4k rows with
 * the smallest bounds (and every row of a block without projected data) are read in full, which sets
 * the k-th distance; then only rows whose bound does not exceed it are read. No row that could be in
 * the answer is skipped: the answer is the full scan's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLACK 1e-4f

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

static float dot(const float *a, const float *b, Py_ssize_t n) {
    float s = 0.0f;
    for (Py_ssize_t j = 0; j < n; j++) s += a[j] * b[j];
    return s;
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

typedef struct {
    const float *q;
    Py_ssize_t dim;
    int metric;
    float qsq;
} Query;

static float partial(const Query *Q, const float *x, float sqnorm) {
    float ip = dot(Q->q, x, Q->dim);
    return Q->metric == 0 ? sqnorm - 2.0f * ip : -ip;
}

static float limit_of(const Query *Q, const TopK *t) {
    if (t->filled < t->k) return INFINITY;
    float w = t->d[t->worst];
    float full = Q->metric == 0 ? w + Q->qsq : 2.0f + 2.0f * w;
    return full * (1.0f + SLACK) + SLACK;
}

#define COL(b, c) blk[(b) * 8 + (c)]

/* One query over its blocks (rows of blk); lows/finite: scratch of at least the blocks' row count. */
static int64_t scan_one(const Query *Q, const float *pq, Py_ssize_t r, float pqsq, float eq, int prune,
                        const int64_t *blk, Py_ssize_t n_blocks, TopK *t, float *lows, float *finite) {
    int64_t read = 0;
    if (!prune) {
        for (Py_ssize_t b = 0; b < n_blocks; b++) {
            const float *v = (const float *)COL(b, 0), *s = (const float *)COL(b, 1);
            const char *dm = (const char *)COL(b, 2);
            for (int64_t i = 0; i < COL(b, 6); i++) {
                if (dm && dm[i]) continue;
                offer(t, partial(Q, v + i * Q->dim, s[i]), (COL(b, 7) << 32) | i);
                read++;
            }
        }
        return read;
    }
    /* pass 1: bounds (-inf: must be read, the block has no projected rows; +inf: deleted) */
    Py_ssize_t pos = 0, n_finite = 0;
    for (Py_ssize_t b = 0; b < n_blocks; b++) {
        const char *dm = (const char *)COL(b, 2);
        const float *p = (const float *)COL(b, 3), *ps = (const float *)COL(b, 4), *e = (const float *)COL(b, 5);
        for (int64_t i = 0; i < COL(b, 6); i++, pos++) {
            if (dm && dm[i]) {
                lows[pos] = INFINITY;
            } else if (!p) {
                lows[pos] = -INFINITY;
            } else {
                float gap = eq - e[i];
                lows[pos] = ps[i] - 2.0f * dot(p + i * r, pq, r) + pqsq + gap * gap;
                finite[n_finite++] = lows[pos];
            }
        }
    }
    Py_ssize_t first = 4 * t->k;
    float cut = n_finite > first ? select_nth(finite, n_finite, first - 1) : INFINITY;
    /* pass 2: the rows with the smallest bounds set the k-th distance; pass 3: the rest it allows */
    for (int phase = 0; phase < 2; phase++) {
        float limit = limit_of(Q, t);
        pos = 0;
        for (Py_ssize_t b = 0; b < n_blocks; b++) {
            const float *v = (const float *)COL(b, 0), *s = (const float *)COL(b, 1);
            for (int64_t i = 0; i < COL(b, 6); i++, pos++) {
                float lo = lows[pos];
                if (lo == INFINITY) continue;
                int in_first = lo <= cut;
                if (phase == 0 ? (!in_first || lo > limit) : (in_first || lo > limit)) continue;
                read++;
                if (offer(t, partial(Q, v + i * Q->dim, s[i]), (COL(b, 7) << 32) | i)) limit = limit_of(Q, t);
            }
        }
    }
    return read;
}

/* topk(queries, pqs, pqsq, eq, metric, prune, blocks, out_d, out_ref, filled) -> rows read in full
 *
 * queries float32 (nq, dim); pqs float32 (nq, r) projected queries, pqsq and eq float32 (nq,) (used
 * when prune); blocks int64 (nq, p, 8): query i's p blocks (rows with n = 0 are skipped);
 * out_d float32 (nq, k), out_ref int64 (nq, k), filled int64 (nq,) are read and written: query i starts
 * from the filled[i] candidates already there (0 for a fresh search), so a search can run over its
 * blocks in several calls and let each group of blocks go before the next is read.
 */
static PyObject *topk(PyObject *self, PyObject *args) {
    Py_buffer bq, bpq, bsq, beq, bb, bod, bor, bf;
    int metric, prune;
    if (!PyArg_ParseTuple(args, "y*y*y*y*iiy*w*w*w*", &bq, &bpq, &bsq, &beq, &metric, &prune, &bb, &bod, &bor, &bf))
        return NULL;
    Py_buffer *all[] = {&bq, &bpq, &bsq, &beq, &bb, &bod, &bor, &bf};
    const Py_ssize_t nq = bf.len / 8;
    int ok = nq > 0 && bq.len % (4 * nq) == 0 && bpq.len % (4 * nq) == 0 && bsq.len == 4 * nq && beq.len == 4 * nq &&
             bb.len % (64 * nq) == 0 && bod.len % (4 * nq) == 0 && bod.len / 4 == bor.len / 8 && bod.len > 0;
    if (!ok) {
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
        PyErr_SetString(PyExc_ValueError, "topk: inconsistent shapes (see _scan.c)");
        return NULL;
    }
    const Py_ssize_t dim = bq.len / 4 / nq, r = bpq.len / 4 / nq, p = bb.len / 64 / nq, k = bod.len / 4 / nq;
    int64_t read = 0, *filled = bf.buf;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t most = 1;
    for (Py_ssize_t i = 0; i < nq; i++) {
        Py_ssize_t rows = 0;
        const int64_t *blk = (const int64_t *)bb.buf + i * p * 8;
        for (Py_ssize_t b = 0; b < p; b++) rows += COL(b, 6);
        if (rows > most) most = rows;
    }
    float *lows = malloc(sizeof(float) * most), *finite = malloc(sizeof(float) * most);
    if (!lows || !finite) {
        failed = 1;
    } else {
        for (Py_ssize_t i = 0; i < nq; i++) {
            Query Q = {(const float *)bq.buf + i * dim, dim, metric, 0.0f};
            Q.qsq = dot(Q.q, Q.q, dim);
            TopK t = {(float *)bod.buf + i * k, (int64_t *)bor.buf + i * k, k, filled[i] < k ? filled[i] : k, 0};
            for (Py_ssize_t j = 1; j < t.filled; j++)
                if (worse(t.d[j], t.ref[j], t.d[t.worst], t.ref[t.worst])) t.worst = j;
            read += scan_one(&Q, (const float *)bpq.buf + i * r, r, ((float *)bsq.buf)[i], ((float *)beq.buf)[i], prune,
                             (const int64_t *)bb.buf + i * p * 8, p, &t, lows, finite);
            filled[i] = t.filled;
        }
    }
    free(lows);
    free(finite);
    Py_END_ALLOW_THREADS
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    if (failed) return PyErr_NoMemory();
    return PyLong_FromLongLong(read);
}

static PyMethodDef methods[] = {
    {"topk", topk, METH_VARARGS, "Top-k of each query over its blocks (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Compiled block scan.", -1, methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }

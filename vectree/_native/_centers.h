/* Center ranking: the exact nearest bucket centers of one query (included by _scan.c, after the kernels). */

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
/* The core of rank_centers over raw arrays its caller holds: out[0..p) the p nearest centers.
 * work holds L * 3 + m + dim floats. Returns centers read in full, or -1 when memory ran out.
 * Needs no GIL. */
static int64_t rank_core(const float *q, Py_ssize_t dim, const float *mu, const float *proj, Py_ssize_t m,
                         const float *c, const float *norms, const float *pc, const float *pcsq, const float *ec,
                         const char *empty, Py_ssize_t L, int64_t *out, Py_ssize_t p, float *work) {
    int64_t read = 0;
    float *low = work, *scratch = low + L, *full = low + 2 * L, *pq = low + 3 * L, *centered = pq + m;
    for (Py_ssize_t j = 0; j < dim; j++) centered[j] = q[j] - mu[j];
    dots(proj, m, centered, dim, pq);
    const float pqsq = dot(pq, pq, m), qsq = dot(q, q, dim), rest = dot(centered, centered, dim) - pqsq;
    const float eq = rest > 0.0f ? sqrtf(rest) : 0.0f;
    dots(pc, L, pq, m, low);
    for (Py_ssize_t j = 0; j < L; j++) {
        float gap = eq - ec[j];
        low[j] = empty[j] ? INFINITY : pcsq[j] - 2.0f * low[j] + pqsq + gap * gap;
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
    if (!td || !tr) {
        if (p > 64) {
            PyMem_RawFree(td);
            PyMem_RawFree(tr);
        }
        return -1;
    }
    TopK t = {td, tr, p, 0, 0};
    for (int phase = 0; phase < 2; phase++) {
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
    return read;
}

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
    float *work = PyMem_RawMalloc(sizeof(float) * (L * 3 + m + dim));
    int64_t read = -1;
    if (work) {
        Py_BEGIN_ALLOW_THREADS
        read = rank_core(bq.buf, dim, bmu.buf, bpr.buf, m, bc.buf, bn.buf, bpc.buf, bps.buf, bec.buf, bem.buf, L,
                         bo.buf, p, work);
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(work);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    if (read < 0) return PyErr_NoMemory();
    return PyLong_FromLongLong(read);
}

/* Center ranking: the exact nearest bucket centers of one query (included by _scan.c, after the kernels). */

#define RANK_BINS 256

/* A value with at least m of v[0..L) at or below it, and few more (~m + L / RANK_BINS), from a histogram
 * between the smallest and largest finite values: INFINITY when fewer than m are finite or they have no
 * spread. Callers count what falls below it (rounding at a bin's edge may leave it short). It replaced
 * a quickselect whose unpredictable branches were most of the center ranking's time (fashion-mnist:
 * 1,134 centers). */
static float hist_cut(const float *v, Py_ssize_t L, Py_ssize_t m) {
    float lo = INFINITY, hi = -INFINITY;
    for (Py_ssize_t j = 0; j < L; j++) {
        lo = v[j] < lo ? v[j] : lo;
        hi = v[j] > hi && v[j] < INFINITY ? v[j] : hi;
    }
    const float scale = (float)RANK_BINS / (hi - lo);
    if (!(lo < hi) || !(scale < INFINITY) || !(scale > 0.0f)) return INFINITY;
    uint32_t count[RANK_BINS] = {0};
    for (Py_ssize_t j = 0; j < L; j++) {
        if (!(v[j] < INFINITY)) continue; /* (NaN too) */
        const int b = (int)((v[j] - lo) * scale);
        count[b < RANK_BINS ? b : RANK_BINS - 1]++;
    }
    Py_ssize_t seen = 0;
    for (int b = 0; b < RANK_BINS; b++) {
        seen += count[b];
        if (seen >= m) return b == RANK_BINS - 1 ? hi : lo + ((float)b + 1.01f) / scale;
    }
    return INFINITY;
}

/* Sort the n kept (distance, reference) pairs of a top-k in place, nearest first, ties by reference
 * (insertion: n is the few dozen probed buckets or returned rows). */
static void sort_kept(float *td, int64_t *tr, Py_ssize_t n) {
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
}

/* rank_core when the projection keeps (nearly) every dimension (GloVe's 50 of 50): its bounds would cost a
 * full product already, so every center is read in full, eight at a time, into one top p (td, tr; *kept of
 * them filled). The same distance expression as rank_bounds' full reads. full holds L floats. */
static int64_t rank_direct(const float *q, Py_ssize_t dim, const float *c, const float *norms, const char *empty,
                           Py_ssize_t L, Py_ssize_t p, float *full, float *td, int64_t *tr, Py_ssize_t *kept) {
    const float qsq = dot(q, q, dim);
    dots(c, L, q, dim, full);
    for (Py_ssize_t j = 0; j < L; j++) full[j] = empty[j] ? INFINITY : norms[j] - 2.0f * full[j] + qsq;
    /* only centers at or below the cut can be among the p nearest, so the heap below sees ~p of them, not
     * L: offered in number order, L of them replaced its root ~p ln(L / p) times, mispredicted */
    float cut = hist_cut(full, L, p);
    /* a max-heap by (distance, number) of the p nearest so far: a replacement costs log p steps, not the
     * p of offer()'s scan for the worst (which took most of this function's time at p = 30) */
    Py_ssize_t n = 0, offered = 0;
again:
    for (Py_ssize_t j = 0; j < L; j++) {
        const float d = full[j];
        if (d > cut) continue;
        offered++;
        Py_ssize_t i;
        if (n < p) { /* sift up */
            for (i = n++; i > 0 && worse(d, j, td[(i - 1) / 2], tr[(i - 1) / 2]); i = (i - 1) / 2) {
                td[i] = td[(i - 1) / 2];
                tr[i] = tr[(i - 1) / 2];
            }
        } else {
            if (!worse(td[0], tr[0], d, j)) continue; /* the common case: not nearer than the p-th */
            for (i = 0;;) {                           /* sift down from the root */
                Py_ssize_t w = 2 * i + 1;
                if (w >= n) break;
                if (w + 1 < n && worse(td[w + 1], tr[w + 1], td[w], tr[w])) w++;
                if (!worse(td[w], tr[w], d, j)) break;
                td[i] = td[w];
                tr[i] = tr[w];
                i = w;
            }
        }
        td[i] = d;
        tr[i] = j;
    }
    if (offered < p && cut < INFINITY) { /* the cut fell short (rounding at a bin's edge): every center */
        n = offered = 0;
        cut = INFINITY;
        goto again;
    }
    *kept = n;
    return L;
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
/* rank_core through the projection's bounds: the p nearest into td, tr (*kept of them filled). */
static int64_t rank_bounds(const float *q, Py_ssize_t dim, const float *mu, const float *proj, Py_ssize_t m,
                           const float *c, const float *norms, const float *pc, const float *pcsq, const float *ec,
                           const char *empty, Py_ssize_t L, Py_ssize_t p, float *work, float *td, int64_t *tr,
                           Py_ssize_t *kept) {
    int64_t read = 0;
    float *low = work, *full = low + L, *pq = low + 2 * L, *centered = pq + m;
    for (Py_ssize_t j = 0; j < dim; j++) centered[j] = q[j] - mu[j];
    dots(proj, m, centered, dim, pq);
    const float pqsq = dot(pq, pq, m), qsq = dot(q, q, dim), rest = dot(centered, centered, dim) - pqsq;
    const float eq = rest > 0.0f ? sqrtf(rest) : 0.0f;
    dots(pc, L, pq, m, low);
    for (Py_ssize_t j = 0; j < L; j++) {
        float gap = eq - ec[j];
        low[j] = empty[j] ? INFINITY : pcsq[j] - 2.0f * low[j] + pqsq + gap * gap;
        full[j] = NAN; /* not read yet */
    }
    /* read the 2p + 8 smallest bounds, then every center whose bound is below the p-th distance */
    Py_ssize_t first = 2 * p + 8 < L ? 2 * p + 8 : L;
    const float cut = hist_cut(low, L, first); /* (short of first at worst: phase 1 reads what it must) */
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
    *kept = t.filled; /* phase 1 offered every center that could beat the p-th */
    return read;
}

/* The core of rank_centers over raw arrays its caller holds: out[0..p) the p nearest centers, by
 * (distance, number). work holds L * 2 + m + dim floats. Returns centers read in full, or -1 when memory
 * ran out. Needs no GIL. */
static int64_t rank_core(const float *q, Py_ssize_t dim, const float *mu, const float *proj, Py_ssize_t m,
                         const float *c, const float *norms, const float *pc, const float *pcsq, const float *ec,
                         const char *empty, Py_ssize_t L, int64_t *out, Py_ssize_t p, float *work) {
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
    Py_ssize_t n = 0;
    const int64_t read = m * 4 >= dim * 3
                             ? rank_direct(q, dim, c, norms, empty, L, p, work + L, td, tr, &n)
                             : rank_bounds(q, dim, mu, proj, m, c, norms, pc, pcsq, ec, empty, L, p, work, td, tr, &n);
    sort_kept(td, tr, n);
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
    float *work = PyMem_RawMalloc(sizeof(float) * (L * 2 + m + dim));
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

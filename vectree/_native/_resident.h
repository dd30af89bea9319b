/* Resident: one warm query in one call (included by _scan.c, after ScanBlock, topk and rank_core).
 *
 * A Resident belongs to one index (vectree/collection/single.py): per bucket it holds a strong
 * reference to the bucket's ScanBlock and to its int64 ids array while the read cache holds the
 * bucket (the cache drops the entry when it lets the bucket go). search() ranks the query's nearest
 * centers (rank_core), takes a reference to every probed bucket's ScanBlock and ids under the GIL,
 * scans them without the GIL (scan_one, or scan_codes through int8 codes), sorts the k kept by
 * (distance, reference) and writes ids and final distances. If a probed bucket is not resident it
 * returns None before scanning anything, and the caller takes the Python path, which fills the table.
 *
 * Memory: the scan reads only blocks this call holds references to (a ScanBlock holds its arrays
 * through the buffer protocol); ids are read through a buffer taken on an array this call holds.
 * An entry dropped or replaced by another thread mid-call changes the table, never what is read.
 */

typedef struct {
    PyObject_HEAD
    Py_ssize_t n, dim, m;
    ScanBlock **blocks;  /* per bucket: a strong reference, or NULL (not resident) */
    PyObject **ids;      /* per bucket: its int64 ids array (a strong reference), or NULL */
    uint8_t *skip;       /* per bucket: 1 when it holds no rows (never scanned, never needed) */
    uint8_t *touched;    /* per bucket: served since the last take_touched() */
    int64_t *touched_list;
    Py_ssize_t n_touched;
    int64_t hits, served;
    Py_buffer mean, comps, centers, norms, pc, pcsq, ec, empty;
} Resident;

static void Resident_dealloc(Resident *self) {
    for (Py_ssize_t b = 0; self->blocks && b < self->n; b++) Py_XDECREF(self->blocks[b]);
    for (Py_ssize_t b = 0; self->ids && b < self->n; b++) Py_XDECREF(self->ids[b]);
    PyMem_Free(self->blocks);
    PyMem_Free(self->ids);
    PyMem_Free(self->skip);
    PyMem_Free(self->touched);
    PyMem_Free(self->touched_list);
    Py_buffer *all[] = {&self->mean, &self->comps, &self->centers, &self->norms, &self->pc, &self->pcsq, &self->ec, &self->empty};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i]->obj) PyBuffer_Release(all[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Resident(skip, mean, components, centers, norms, pc, pcsq, ec, empty): the arguments of rank_centers
 * (held for the object's life) and skip uint8 (n,), the buckets with no rows. */
static PyObject *Resident_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Py_buffer bskip;
    Resident *self = (Resident *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*", &bskip, &self->mean, &self->comps, &self->centers, &self->norms,
                          &self->pc, &self->pcsq, &self->ec, &self->empty)) {
        Py_DECREF(self);
        return NULL;
    }
    const Py_ssize_t dim = self->mean.len / 4, L = self->norms.len / 4, m = L > 0 ? self->pc.len / 4 / L : 0;
    int ok = dim > 0 && L > 0 && m > 0 && m <= 4096 && bskip.len == L && self->comps.len == 4 * m * dim &&
             self->centers.len == 4 * L * dim && self->pc.len == 4 * L * m && self->pcsq.len == 4 * L &&
             self->ec.len == 4 * L && self->empty.len == L;
    if (ok) {
        self->n = L;
        self->dim = dim;
        self->m = m;
        self->blocks = PyMem_Calloc(L, sizeof(ScanBlock *));
        self->ids = PyMem_Calloc(L, sizeof(PyObject *));
        self->skip = PyMem_Calloc(L, 1);
        self->touched = PyMem_Calloc(L, 1);
        self->touched_list = PyMem_Calloc(L, sizeof(int64_t));
        if (self->blocks && self->ids && self->skip && self->touched && self->touched_list) {
            memcpy(self->skip, bskip.buf, L);
            PyBuffer_Release(&bskip);
            return (PyObject *)self;
        }
        PyErr_NoMemory();
    } else {
        PyErr_SetString(PyExc_ValueError, "Resident: inconsistent shapes (the arguments of rank_centers, skip one byte a bucket)");
    }
    PyBuffer_Release(&bskip);
    Py_DECREF(self);
    return NULL;
}

static int bucket_arg(Resident *self, Py_ssize_t b) {
    if (b >= 0 && b < self->n) return 1;
    PyErr_SetString(PyExc_IndexError, "Resident: no such bucket");
    return 0;
}

/* put(bucket, scan, ids) -> bool: hold the bucket's ScanBlock and ids (int64, one per row); False
 * (nothing held) when ids are not int64 or the block does not fit the table. */
static PyObject *Resident_put(Resident *self, PyObject *args) {
    Py_ssize_t b;
    PyObject *blk, *ids;
    if (!PyArg_ParseTuple(args, "nO!O", &b, &ScanBlockType, &blk, &ids) || !bucket_arg(self, b)) return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(ids, &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    const char *f = v.format ? v.format : "B";
    const size_t fl = strlen(f);
    const char code = fl ? f[fl - 1] : 0;
    int ok = v.itemsize == 8 && (code == 'q' || code == 'l') && v.ndim == 1 && v.len == 8 * ((ScanBlock *)blk)->n &&
             ((ScanBlock *)blk)->dim == self->dim;
    PyBuffer_Release(&v);
    if (!ok) Py_RETURN_FALSE;
    Py_INCREF(blk);
    Py_INCREF(ids);
    Py_XSETREF(self->blocks[b], (ScanBlock *)blk);
    Py_XSETREF(self->ids[b], ids);
    Py_RETURN_TRUE;
}

/* drop(bucket): let the bucket's entry go (the cache evicted or moved it). */
static PyObject *Resident_drop(Resident *self, PyObject *args) {
    Py_ssize_t b;
    if (!PyArg_ParseTuple(args, "n", &b) || !bucket_arg(self, b)) return NULL;
    Py_CLEAR(self->blocks[b]);
    Py_CLEAR(self->ids[b]);
    Py_RETURN_NONE;
}

/* take_touched() -> (buckets served since the last call, bucket hits): for the cache's recency. */
static PyObject *Resident_take_touched(Resident *self, PyObject *unused) {
    PyObject *list = PyList_New(self->n_touched);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < self->n_touched; i++) {
        PyObject *x = PyLong_FromLongLong(self->touched_list[i]);
        if (!x) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, x);
        self->touched[self->touched_list[i]] = 0;
    }
    PyObject *out = Py_BuildValue("NL", list, (long long)self->hits);
    self->n_touched = 0;
    self->hits = 0;
    self->served = 0;
    return out;
}

static PyObject *Resident_get_served(Resident *self, void *c) { return PyLong_FromLongLong(self->served); }

static PyObject *Resident_get_resident(Resident *self, void *c) {
    PyObject *list = PyList_New(0);
    for (Py_ssize_t b = 0; list && b < self->n; b++) {
        if (!self->blocks[b]) continue;
        PyObject *x = PyLong_FromSsize_t(b);
        if (!x || PyList_Append(list, x) < 0) Py_CLEAR(list);
        Py_XDECREF(x);
    }
    return list;
}

/* search(query, metric, k, probes, codes, out_ids, out_d, offset, order, rerank=0, eps=0) -> None or (filled, read, reranked, buckets)
 *
 * query float32 (dim,); out_ids int64 (k,), out_d float32 (k,) receive the answer nearest first
 * (distance = partial distance + offset, summed in double as the Python assembler does, clipped at 0
 * for l2; -1 and inf past the filled ones); order int64 (probes,) receives the ranked buckets, nearest
 * first. None: a probed bucket is not resident (only order written). rerank, eps: as topk_codes'.
 */
static PyObject *Resident_search(Resident *self, PyObject *args) {
    Py_buffer bq, bi, bd, bo;
    int metric, codes;
    Py_ssize_t k, probes;
    double off;
    Py_ssize_t rerank = 0;
    float eps = 0.0f;
    if (!PyArg_ParseTuple(args, "y*inniw*w*dw*|nf", &bq, &metric, &k, &probes, &codes, &bi, &bd, &off, &bo, &rerank,
                          &eps))
        return NULL;
    Py_buffer *all[] = {&bq, &bi, &bd, &bo};
    PyObject *result = NULL;
    int64_t *order = bo.buf;
    float *work = NULL;
    ScanBlock **held = NULL;
    PyObject **hids = NULL;
    BlockView *views = NULL;
    int64_t *plan = NULL;
    Py_ssize_t nb = 0;
    Scratch sc = {0};
    int64_t rq_dim = -1;
    float *td = NULL;
    int64_t *tr = NULL;
    const Py_ssize_t dim = self->dim, n = self->n;
    if (!(bq.len == 4 * dim && k > 0 && bi.len == 8 * k && bd.len == 4 * k && probes > 0 && probes <= n &&
          bo.len == 8 * probes && metric >= 0 && metric <= 2 && rerank >= 0)) {
        PyErr_SetString(PyExc_ValueError, "Resident.search: inconsistent shapes (see _resident.h)");
        goto done;
    }
    work = PyMem_RawMalloc(sizeof(float) * (n * 2 + self->m + dim));
    held = PyMem_Calloc(probes, sizeof(ScanBlock *));
    hids = PyMem_Calloc(probes, sizeof(PyObject *));
    views = PyMem_Calloc(probes, sizeof(BlockView));
    plan = PyMem_Calloc(probes, sizeof(int64_t));
    td = PyMem_Malloc(sizeof(float) * k);
    tr = PyMem_Malloc(sizeof(int64_t) * k);
    if (!work || !held || !hids || !views || !plan || !td || !tr) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t ranked;
    Py_BEGIN_ALLOW_THREADS
    ranked = rank_core(bq.buf, dim, self->mean.buf, self->comps.buf, self->m, self->centers.buf, self->norms.buf,
                       self->pc.buf, self->pcsq.buf, self->ec.buf, self->empty.buf, n, order, probes, work);
    Py_END_ALLOW_THREADS
    if (ranked < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* with the GIL: a reference to every probed bucket, or None if one is not resident */
    for (Py_ssize_t j = 0; j < probes; j++) {
        const int64_t b = order[j];
        if (b < 0 || self->skip[b]) continue;
        ScanBlock *blk = self->blocks[b];
        if (!blk || (codes && blk->n > 0 && !blk->codes.obj) || (metric == 0 && blk->n > 0 && !blk->sqnorms.obj)) {
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        }
        Py_INCREF(blk);
        Py_INCREF(self->ids[b]);
        held[nb] = blk;
        hids[nb] = self->ids[b];
        views[nb] = (BlockView){blk->vectors.buf, blk->sqnorms.obj ? blk->sqnorms.buf : NULL, NULL,
                                blk->codes.obj ? blk->codes.buf : NULL, blk->codes.obj ? blk->code_lo.buf : NULL,
                                blk->code_scale.obj ? blk->code_scale.buf : NULL, blk->n, b, blk->width, blk->rq_dim};
        plan[nb] = nb;
        nb++;
        if (codes && blk->n > 0) {
            if (rq_dim < 0) rq_dim = blk->rq_dim;
            if (rq_dim != blk->rq_dim) {
                PyErr_SetString(PyExc_ValueError, "Resident.search: buckets with int8 and RaBitQ codes in one call");
                goto done;
            }
        }
    }
    sc.rerank = rerank;
    sc.eps = eps;
    if (codes && scratch_open(&sc, dim, k) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    TopK t = {td, tr, k, 0, 0};
    int64_t counts[2] = {0, 0};
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    if (codes) failed = (rq_dim > 0 ? scan_rabitq : scan_codes)(bq.buf, dim, metric, views, plan, nb, &t, &sc, counts);
    else counts[0] = scan_one(bq.buf, dim, metric, views, plan, nb, &t);
    /* the k kept, by (distance, reference): the assembler's order */
    sort_kept(td, tr, t.filled);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *out_ids = bi.buf;
    float *out_d = bd.buf;
    for (Py_ssize_t a = 0; a < k; a++) {
        if (a >= t.filled) {
            out_ids[a] = -1;
            out_d[a] = INFINITY;
            continue;
        }
        const int64_t b = tr[a] >> 32, row = tr[a] & 0xFFFFFFFFLL;
        Py_ssize_t j = 0;
        while (j < nb && views[j].slot != b) j++;
        Py_buffer v;
        if (j == nb || PyObject_GetBuffer(hids[j], &v, PyBUF_C_CONTIGUOUS) < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "Resident.search: a candidate names no held bucket");
            goto done;
        }
        const int ok = v.itemsize == 8 && row < v.len / 8;
        if (ok) out_ids[a] = ((const int64_t *)v.buf)[row];
        PyBuffer_Release(&v);
        if (!ok) {
            PyErr_SetString(PyExc_RuntimeError, "Resident.search: a bucket's ids are shorter than its rows");
            goto done;
        }
        double x = (double)td[a] + off;
        if (metric == 0 && !(x > 0.0)) x = 0.0;
        out_d[a] = (float)x;
    }
    for (Py_ssize_t j = 0; j < nb; j++) {
        const int64_t b = views[j].slot;
        if (!self->touched[b]) {
            self->touched[b] = 1;
            self->touched_list[self->n_touched++] = b;
        }
    }
    self->hits += nb;
    self->served++;
    result = Py_BuildValue("nLLn", t.filled, (long long)counts[0], (long long)counts[1], nb);
done:
    for (Py_ssize_t j = 0; j < nb; j++) {
        Py_DECREF(held[j]);
        Py_DECREF(hids[j]);
    }
    scratch_close(&sc);
    PyMem_RawFree(work);
    PyMem_Free(held);
    PyMem_Free(hids);
    PyMem_Free(views);
    PyMem_Free(plan);
    PyMem_Free(td);
    PyMem_Free(tr);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    return result;
}

static PyMethodDef Resident_methods[] = {
    {"put", (PyCFunction)Resident_put, METH_VARARGS, "put(bucket, scan, ids) -> bool: hold a cached bucket's ScanBlock and int64 ids."},
    {"drop", (PyCFunction)Resident_drop, METH_VARARGS, "drop(bucket): let a bucket's entry go."},
    {"take_touched", (PyCFunction)Resident_take_touched, METH_NOARGS, "(buckets served since the last call, bucket hits); resets both."},
    {"search", (PyCFunction)Resident_search, METH_VARARGS, "One query's top k over its probed buckets, or None (see _resident.h)."},
    {NULL},
};

static PyGetSetDef Resident_getset[] = {
    {"served", (getter)Resident_get_served, NULL, "queries answered since the last take_touched()", NULL},
    {"resident", (getter)Resident_get_resident, NULL, "the buckets held now, in order", NULL},
    {NULL},
};

static PyTypeObject ResidentType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vectree._native._scan.Resident",
    .tp_basicsize = sizeof(Resident),
    .tp_dealloc = (destructor)Resident_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Resident(skip, mean, components, centers, norms, pc, pcsq, ec, empty): one index's cached buckets, for one-call single queries (see _resident.h).",
    .tp_new = Resident_new,
    .tp_methods = Resident_methods,
    .tp_getset = Resident_getset,
};

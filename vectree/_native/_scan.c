/* The compiled kernels of vectree (see vectree/_native/__init__.py): the top-k scan of queries over
 * many buckets in one call (vectree/collection/kernel.py), folding matrix products into running top-k
 * lists (batches), the exact ranking of one query's nearest bucket centers (vectree/index/centers.py)
 * and float16 widening.
 *
 * Memory: every address these functions read belongs to a buffer they hold for the whole call. A
 * bucket is passed as a ScanBlock, which holds its vectors (and squared norms) through the buffer
 * protocol for as long as it lives; topk takes a strong reference to each ScanBlock it is given and
 * holds every other array through Py_buffer views until it returns. Nothing is read through an
 * address whose lifetime depends on what another thread does.
 *
 * SIMD: the inner loops (_kernels.h) are compiled for AVX2 + FMA + F16C and for the compiler's
 * default target; the module picks one at import from the CPU (VECTREE_SIMD=generic forces the
 * plain one), so a build without -march=native runs anywhere and still uses the wide path.
 *
 * Parts: the scan kernels (_kernels.h, twice), the code scan's prefetch (_ahead.h), RaBitQ (_rabitq.h),
 * the center ranking (_centers.h) and the one-call warm query (_resident.h).
 *
 * Each query gets the k best (partial distance, slot << 32 | row), unsorted. metric: 0 l2
 * (|x|^2 - 2<q,x>), 1 cosine and 2 dot (-<q,x>). Every row of every block is read, in order: a
 * sequential read is what memory serves fastest (benchmarks/README.md records the exact pruning this
 * replaced, which read fewer rows but out of order, and lost).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_WIDE_VARIANT 1
#else
#define HAVE_WIDE_VARIANT 0
#endif

typedef struct {
    float *d;
    int64_t *ref;
    Py_ssize_t k, filled, worst;
} TopK;

static int worse(float da, int64_t ra, float db, int64_t rb) { return da > db || (da == db && ra > rb); }

/* Offer one candidate; returns 1 when the k-th best changed. */
/* (not inline: offered candidates are the rare case, and inlining this into the scan loops made
 * offer_rows 2x slower; the loops decide the common case, a candidate that cannot beat the k-th, inline) */
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

/* IEEE half to float without F16C: move the exponent and mantissa into place and rescale with one
 * multiply (which also turns half subnormals into normal floats); infinities and NaNs by hand. */
static inline float half_to_float_soft(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu;
    uint32_t bits = em << 13;
    float f;
    memcpy(&f, &bits, 4);
    f *= 0x1p112f; /* 2^(127 - 15) */
    memcpy(&bits, &f, 4);
    if (em >= 0x7c00u) bits = 0x7f800000u | ((em & 0x3ffu) << 13);
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
}

typedef float v8 __attribute__((vector_size(32), aligned(4)));

/* What the scan reads of one block, taken from buffers held for the call. */
typedef struct {
    const void *vectors;   /* (n, dim) float32 or float16 */
    const float *sqnorms;  /* (n,) or NULL (l2 only) */
    const char *dead;      /* (n,) or NULL */
    const uint8_t *codes;  /* (n, dim) int8 scalar codes, or NULL */
    const float *code_lo, *code_scale; /* (dim,) each: a value is lo + scale * code (within scale / 2) */
    int64_t n, slot;
    int width;             /* bytes per value: 4 or 2 */
    int64_t rq_dim;        /* RaBitQ codes (code_lo is the rotated center, rq_dim floats): the padded dim; 0: int8 */
} BlockView;

#define QI_LEN(dim) (((dim) + 15) / 16 * 16 + 16)

/* A row the codes could not rule out: its lower bound, block (index into the call's blocks) and row. */
typedef struct {
    float low;
    int32_t block, row;
} Cand;

static int cand_low_order(const void *x, const void *y) {
    float a = ((const Cand *)x)->low, b = ((const Cand *)y)->low;
    return (a > b) - (a < b);
}

/* Per-call working memory of the code scan (one per thread of a call: a call is one thread). */
typedef struct {
    float *qs, *ud;
    int64_t *ur;
    int16_t *qi;        /* (QI_LEN(dim),) the query's steps in one block's code units, zero past dim */
    int32_t qmax;       /* |qi| bound: 255 * qmax * dim stays below 2^31 */
    Cand *cand;
    Py_ssize_t cap;
    Py_ssize_t rerank;  /* at most this many rows read in full (0: as many as the bound asks for) */
    float eps;          /* RaBitQ: the error bound's width in standard deviations (0: the default) */
    float *rq;          /* RaBitQ: (2 * rq_cap,) the rotated query and its offset from a bucket's center */
    uint64_t *planes;   /* RaBitQ: (4 * rq_cap / 64,) the offset's 4-bit steps as bit planes */
    Py_ssize_t rq_cap;
    int collect;        /* codes_candidates: keep the candidates (sc->cand[0..kept)), read no row in full */
    Py_ssize_t kept;
} Scratch;

/* The code scan's working memory for queries of dim and top k (0, or -1 with nothing held). */
static int scratch_open(Scratch *sc, Py_ssize_t dim, Py_ssize_t k) {
    sc->qs = PyMem_RawMalloc(sizeof(float) * (dim + k));
    sc->ur = PyMem_RawMalloc(sizeof(int64_t) * k);
    /* zero past dim: the kernels run over dim rounded up (see dot_codes_8) */
    sc->qi = PyMem_RawCalloc(QI_LEN(dim), sizeof(int16_t));
    if (!sc->qs || !sc->ur || !sc->qi) {
        PyMem_RawFree(sc->qs);
        PyMem_RawFree(sc->ur);
        PyMem_RawFree(sc->qi);
        sc->qs = NULL, sc->ur = NULL, sc->qi = NULL;
        return -1;
    }
    const int64_t fit = (int64_t)2147483647 / (255 * (int64_t)(dim ? dim : 1));
    sc->qmax = (int32_t)(fit < 2047 ? (fit < 1 ? 1 : fit) : 2047);
    sc->ud = sc->qs + dim;
    return 0;
}

static void scratch_close(Scratch *sc) {
    PyMem_RawFree(sc->qs);
    PyMem_RawFree(sc->ur);
    PyMem_RawFree(sc->qi);
    PyMem_RawFree(sc->cand);
    PyMem_RawFree(sc->rq);
    PyMem_RawFree(sc->planes);
}

/* Append a candidate to sc->cand[0..*nc), growing it by doubling (0, or -1 when memory ran out). */
static inline int push_cand(Scratch *sc, Py_ssize_t *nc, Cand cand) {
    if (*nc == sc->cap) {
        Py_ssize_t cap = sc->cap ? 2 * sc->cap : 1024;
        Cand *grown = PyMem_RawRealloc(sc->cand, sizeof(Cand) * cap);
        if (!grown) return -1;
        sc->cand = grown;
        sc->cap = cap;
    }
    sc->cand[(*nc)++] = cand;
    return 0;
}

#include "_ahead.h"

#if HAVE_WIDE_VARIANT
#define KERNEL_ATTR __attribute__((target("avx2,fma,f16c")))
#define SFX(name) name##_wide
#define KERNEL_WIDE 1
#include "_kernels.h"
#undef KERNEL_ATTR
#undef SFX
#undef KERNEL_WIDE
#endif
#define KERNEL_ATTR
#define SFX(name) name##_generic
#define KERNEL_WIDE 0
#include "_kernels.h"
#undef KERNEL_ATTR
#undef SFX
#undef KERNEL_WIDE

typedef int64_t (*scan_fn)(const float *, Py_ssize_t, int, const BlockView *, const int64_t *, Py_ssize_t, TopK *);
typedef int (*codes_fn)(const float *, Py_ssize_t, int, const BlockView *, const int64_t *, Py_ssize_t, TopK *, Scratch *, int64_t *);
typedef float (*dot_fn_t)(const float *, const float *, Py_ssize_t);
typedef void (*widen_fn_t)(const uint16_t *, float *, Py_ssize_t);
typedef void (*dots_fn_t)(const float *, Py_ssize_t, const float *, Py_ssize_t, float *);
typedef void (*rerank_fn)(const float *, Py_ssize_t, int, const BlockView *, TopK *, Scratch *, Py_ssize_t, int64_t *);
static rerank_fn rerank_rows = rerank_rows_generic;
static scan_fn scan_one = scan_one_generic;
static codes_fn scan_codes = scan_codes_generic;
static dot_fn_t dot = dot_out_generic;
static dots_fn_t dots = dots_generic;
static widen_fn_t widen_values = widen_generic;
static const char *simd_name = "generic";

static void pick_variant(void) {
    const char *force = getenv("VECTREE_SIMD");
    if (force && strcmp(force, "generic") == 0) return;
#if HAVE_WIDE_VARIANT
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        scan_one = scan_one_wide;
        scan_codes = scan_codes_wide;
        dot = dot_out_wide;
        dots = dots_wide;
        rerank_rows = rerank_rows_wide;
        widen_values = widen_wide;
        simd_name = "avx2+fma+f16c";
    }
#endif
}

#include "_rabitq.h"

/* ------------------------------------------------------------------ ScanBlock */

/* A bucket's arrays as the scan reads them, held through the buffer protocol for the object's life. */
typedef struct {
    PyObject_HEAD
    Py_buffer vectors;
    Py_buffer sqnorms; /* .obj == NULL when absent */
    Py_buffer codes, code_lo, code_scale; /* .obj == NULL when the bucket has no codes */
    Py_ssize_t n, dim;
    int width;
    Py_ssize_t rq_dim; /* RaBitQ codes: the padded dim (code_lo holds the rotated center); 0: int8 or none */
} ScanBlock;

static void ScanBlock_dealloc(ScanBlock *self) {
    if (self->vectors.obj) PyBuffer_Release(&self->vectors);
    if (self->sqnorms.obj) PyBuffer_Release(&self->sqnorms);
    if (self->codes.obj) PyBuffer_Release(&self->codes);
    if (self->code_lo.obj) PyBuffer_Release(&self->code_lo);
    if (self->code_scale.obj) PyBuffer_Release(&self->code_scale);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int format_is(const Py_buffer *b, char code) {
    const char *f = b->format ? b->format : "B";
    size_t len = strlen(f);
    return len >= 1 && f[len - 1] == code && (len == 1 || (len == 2 && (f[0] == '<' || f[0] == '=' || f[0] == '@')));
}

static PyObject *ScanBlock_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"vectors", "sqnorms", "codes", "code_lo", "code_scale", "rabitq_center", "dim", NULL};
    PyObject *vobj, *sobj = Py_None, *cobj = Py_None, *lobj = Py_None, *scobj = Py_None, *robj = Py_None;
    Py_ssize_t given_dim = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOOOn", kwlist, &vobj, &sobj, &cobj, &lobj, &scobj, &robj,
                                     &given_dim))
        return NULL;
    ScanBlock *self = (ScanBlock *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (vobj == Py_None) { /* codes only (a two-phase read's first phase): n from the codes, dim given */
        if (cobj == Py_None || given_dim <= 0) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: a block without vectors needs codes and dim");
            goto fail;
        }
        Py_buffer probe;
        if (PyObject_GetBuffer(cobj, &probe, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        self->n = probe.ndim == 2 ? probe.shape[0] : -1;
        PyBuffer_Release(&probe);
        if (self->n < 0) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: codes must be a 2-d uint8 array");
            goto fail;
        }
        self->dim = given_dim;
        self->width = 0;
    } else {
        if (PyObject_GetBuffer(vobj, &self->vectors, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        if (self->vectors.ndim != 2 || !((self->vectors.itemsize == 4 && format_is(&self->vectors, 'f')) ||
                                         (self->vectors.itemsize == 2 && format_is(&self->vectors, 'e')))) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: vectors must be a C-contiguous 2-d float32 or float16 array");
            goto fail;
        }
        self->n = self->vectors.shape[0];
        self->dim = self->vectors.shape[1];
        self->width = (int)self->vectors.itemsize;
        if (given_dim >= 0 && given_dim != self->dim) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: dim does not match the vectors");
            goto fail;
        }
    }
    if (sobj != Py_None) {
        if (PyObject_GetBuffer(sobj, &self->sqnorms, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        if (self->sqnorms.ndim != 1 || self->sqnorms.itemsize != 4 || !format_is(&self->sqnorms, 'f') ||
            self->sqnorms.shape[0] != self->n) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: sqnorms must be a float32 array with one value per vector");
            goto fail;
        }
    }
    if (cobj != Py_None && robj != Py_None) { /* RaBitQ: (n, d / 8 + 16) bits and factors, center (d,) */
        if (lobj != Py_None || scobj != Py_None) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: RaBitQ codes take rabitq_center, not code_lo or code_scale");
            goto fail;
        }
        if (PyObject_GetBuffer(cobj, &self->codes, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        if (PyObject_GetBuffer(robj, &self->code_lo, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        const Py_ssize_t d = self->code_lo.len / 4;
        Py_ssize_t want = 64;
        while (want < self->dim) want *= 2;
        if (self->codes.ndim != 2 || self->codes.itemsize != 1 || !format_is(&self->codes, 'B') ||
            self->codes.shape[0] != self->n || self->code_lo.itemsize != 4 || !format_is(&self->code_lo, 'f') ||
            d != want || self->codes.shape[1] != d / 8 + 16) {
            PyErr_SetString(PyExc_ValueError,
                            "ScanBlock: RaBitQ codes must be uint8 (n, d / 8 + 16) and rabitq_center float32 (d,), d the "
                            "dim padded to a power of two (at least 64)");
            goto fail;
        }
        self->rq_dim = d;
    } else if (cobj != Py_None) {
        if (lobj == Py_None || scobj == Py_None) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: codes need code_lo and code_scale");
            goto fail;
        }
        if (PyObject_GetBuffer(cobj, &self->codes, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        if (PyObject_GetBuffer(lobj, &self->code_lo, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        if (PyObject_GetBuffer(scobj, &self->code_scale, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto fail;
        if (self->codes.ndim != 2 || self->codes.itemsize != 1 || !format_is(&self->codes, 'B') ||
            self->codes.shape[0] != self->n || self->codes.shape[1] != self->dim ||
            self->code_lo.itemsize != 4 || !format_is(&self->code_lo, 'f') || self->code_lo.len != 4 * self->dim ||
            self->code_scale.itemsize != 4 || !format_is(&self->code_scale, 'f') || self->code_scale.len != 4 * self->dim) {
            PyErr_SetString(PyExc_ValueError, "ScanBlock: codes must be uint8 (n, dim), code_lo and code_scale float32 (dim,)");
            goto fail;
        }
    }
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

static PyObject *ScanBlock_get_n(ScanBlock *self, void *c) { return PyLong_FromSsize_t(self->n); }
static PyObject *ScanBlock_get_dim(ScanBlock *self, void *c) { return PyLong_FromSsize_t(self->dim); }
static PyObject *ScanBlock_get_l2(ScanBlock *self, void *c) { return PyBool_FromLong(self->sqnorms.obj != NULL); }
static PyObject *ScanBlock_get_codes(ScanBlock *self, void *c) { return PyBool_FromLong(self->codes.obj != NULL); }

static PyGetSetDef ScanBlock_getset[] = {
    {"n", (getter)ScanBlock_get_n, NULL, "rows", NULL},
    {"dim", (getter)ScanBlock_get_dim, NULL, "dimensions", NULL},
    {"has_sqnorms", (getter)ScanBlock_get_l2, NULL, "whether squared norms are held (l2 scans need them)", NULL},
    {"has_codes", (getter)ScanBlock_get_codes, NULL, "whether codes are held, int8 or RaBitQ (topk_codes needs them)", NULL},
    {NULL},
};

static PyTypeObject ScanBlockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vectree._native._scan.ScanBlock",
    .tp_basicsize = sizeof(ScanBlock),
    .tp_dealloc = (destructor)ScanBlock_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ScanBlock(vectors, sqnorms=None, codes=None, code_lo=None, code_scale=None): a bucket's arrays, held for the scan (see the module source).",
    .tp_new = ScanBlock_new,
    .tp_getset = ScanBlock_getset,
};

/* ------------------------------------------------------------------ topk */

/* topk(queries, metric, blocks, dead, slots, plan, out_d, out_ref, filled) -> rows read
 *
 * queries float32 (nq, dim); blocks a sequence of ScanBlock; dead a sequence of the same length of
 * None or a buffer of n bytes (nonzero: deleted row); slots int64 (len(blocks),): each block's slot
 * number, the high half of its rows' references; plan int64 (nq, p): the blocks query i scans, in
 * order, as indices into blocks (-1: none). out_d float32 (nq, k), out_ref int64 (nq, k), filled
 * int64 (nq,) are read and written: query i starts from the filled[i] candidates already there (0
 * for a fresh search), so a search can run over its blocks in several calls.
 */
static PyObject *topk_impl(PyObject *args, int use_codes) { /* use_codes 2: codes_candidates */
    Py_buffer bq, bs, bp, bod, bor, bf;
    PyObject *blocks_obj, *dead_obj;
    int metric;
    Py_ssize_t rerank = 0;
    float eps = 0.0f;
    if (!PyArg_ParseTuple(args, "y*iOOy*y*w*w*w*|nf", &bq, &metric, &blocks_obj, &dead_obj, &bs, &bp, &bod, &bor, &bf,
                          &rerank, &eps))
        return NULL;
    Py_buffer *all[] = {&bq, &bs, &bp, &bod, &bor, &bf};
    PyObject *blocks = NULL, *deads = NULL, *result = NULL;
    ScanBlock **held = NULL;
    Py_buffer *dead_views = NULL;
    BlockView *views = NULL;
    Py_ssize_t nb = 0, n_held = 0;
    int64_t rq_dim = -1; /* the codes' kind over the call's blocks: 0 int8, > 0 RaBitQ, -1 none yet */
    const Py_ssize_t nq = bf.len / 8;
    if (use_codes == 2 && nq != 1) {
        PyErr_SetString(PyExc_ValueError, "codes_candidates: one query a call");
        goto done;
    }
    if (!(nq > 0 && bq.len % (4 * nq) == 0 && bp.len % (8 * nq) == 0 && bod.len % (4 * nq) == 0 &&
          bod.len / 4 == bor.len / 8 && bod.len > 0 && metric >= 0 && metric <= 2 && rerank >= 0)) {
        PyErr_SetString(PyExc_ValueError, "topk: inconsistent shapes (see _scan.c)");
        goto done;
    }
    const Py_ssize_t dim = bq.len / 4 / nq, p = bp.len / 8 / nq, k = bod.len / 4 / nq;
    blocks = PySequence_Fast(blocks_obj, "topk: blocks must be a sequence of ScanBlock");
    deads = blocks ? PySequence_Fast(dead_obj, "topk: dead must be a sequence") : NULL;
    if (!deads) goto done;
    nb = PySequence_Fast_GET_SIZE(blocks);
    if (PySequence_Fast_GET_SIZE(deads) != nb || bs.len != 8 * nb) {
        PyErr_SetString(PyExc_ValueError, "topk: blocks, dead and slots must have one entry per block");
        goto done;
    }
    held = PyMem_Calloc(nb ? nb : 1, sizeof(ScanBlock *));
    dead_views = PyMem_Calloc(nb ? nb : 1, sizeof(Py_buffer));
    views = PyMem_Calloc(nb ? nb : 1, sizeof(BlockView));
    if (!held || !dead_views || !views) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *slots = bs.buf;
    for (Py_ssize_t i = 0; i < nb; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(blocks, i);
        if (!PyObject_TypeCheck(item, &ScanBlockType)) {
            PyErr_SetString(PyExc_TypeError, "topk: every block must be a ScanBlock");
            goto done;
        }
        ScanBlock *b = (ScanBlock *)item;
        Py_INCREF(b); /* ours until we return, whatever the caller's sequence becomes */
        held[n_held++] = b;
        if (use_codes && b->n > 0 && !b->codes.obj) {
            PyErr_SetString(PyExc_ValueError, "topk_codes: a block has no codes");
            goto done;
        }
        if (use_codes != 2 && b->n > 0 && !b->vectors.obj) {
            PyErr_SetString(PyExc_ValueError, "topk: a block holds no vectors (only codes_candidates takes one)");
            goto done;
        }
        if (b->dim != dim || (metric == 0 && b->n > 0 && !b->sqnorms.obj) || slots[i] < 0 || slots[i] >= (1LL << 31)) {
            PyErr_SetString(PyExc_ValueError, "topk: a block's dim, squared norms (l2) or slot does not fit the query");
            goto done;
        }
        PyObject *d = PySequence_Fast_GET_ITEM(deads, i);
        if (d != Py_None) {
            if (PyObject_GetBuffer(d, &dead_views[i], PyBUF_SIMPLE) < 0) goto done;
            if (dead_views[i].len != b->n) {
                PyErr_SetString(PyExc_ValueError, "topk: a dead mask must have one byte per row of its block");
                goto done;
            }
        }
        views[i] = (BlockView){b->vectors.buf, b->sqnorms.obj ? b->sqnorms.buf : NULL,
                               dead_views[i].obj ? dead_views[i].buf : NULL,
                               b->codes.obj ? b->codes.buf : NULL, b->codes.obj ? b->code_lo.buf : NULL,
                               b->code_scale.obj ? b->code_scale.buf : NULL, b->n, slots[i], b->width, b->rq_dim};
        if (use_codes && b->n > 0) {
            if (rq_dim < 0) rq_dim = b->rq_dim;
            if (rq_dim != b->rq_dim) {
                PyErr_SetString(PyExc_ValueError, "topk_codes: blocks with int8 and RaBitQ codes in one call");
                goto done;
            }
        }
    }
    const int64_t *plan = bp.buf;
    for (Py_ssize_t i = 0; i < nq * p; i++) {
        if (plan[i] < -1 || plan[i] >= nb) {
            PyErr_SetString(PyExc_ValueError, "topk: a plan entry names no block");
            goto done;
        }
    }
    int64_t read = 0, *filled = bf.buf, counts[2] = {0, 0};
    int failed = 0;
    Scratch sc = {0};
    sc.rerank = rerank;
    sc.eps = eps;
    sc.collect = use_codes == 2;
    if (use_codes && scratch_open(&sc, dim, k) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nq && !failed; i++) {
        TopK t = {(float *)bod.buf + i * k, (int64_t *)bor.buf + i * k, k, filled[i] < 0 ? 0 : (filled[i] < k ? filled[i] : k), 0};
        for (Py_ssize_t j = 1; j < t.filled; j++)
            if (worse(t.d[j], t.ref[j], t.d[t.worst], t.ref[t.worst])) t.worst = j;
        if (use_codes)
            failed = rq_dim > 0 ? scan_rabitq((const float *)bq.buf + i * dim, dim, metric, views, plan + i * p, p, &t, &sc, counts)
                                : scan_codes((const float *)bq.buf + i * dim, dim, metric, views, plan + i * p, p, &t, &sc, counts);
        else
            read += scan_one((const float *)bq.buf + i * dim, dim, metric, views, plan + i * p, p, &t);
        filled[i] = t.filled;
    }
    Py_END_ALLOW_THREADS
    if (failed) PyErr_NoMemory();
    else if (use_codes == 2) {
        /* the candidates nearest bound first, at most rerank of them (> 0), as block << 32 | row */
        Py_ssize_t m = sc.kept;
        if (m > 1) qsort(sc.cand, m, sizeof(Cand), cand_low_order);
        if (rerank > 0 && m > rerank) m = rerank;
        PyObject *refs = PyBytes_FromStringAndSize(NULL, 8 * m);
        if (refs) {
            int64_t *out = (int64_t *)PyBytes_AS_STRING(refs);
            for (Py_ssize_t c = 0; c < m; c++) out[c] = ((int64_t)sc.cand[c].block << 32) | sc.cand[c].row;
            result = Py_BuildValue("LN", (long long)counts[0], refs);
        }
    } else result = use_codes ? Py_BuildValue("LL", (long long)counts[0], (long long)counts[1]) : PyLong_FromLongLong(read);
    if (use_codes) scratch_close(&sc);
done:
    if (dead_views)
        for (Py_ssize_t i = 0; i < nb; i++)
            if (dead_views[i].obj) PyBuffer_Release(&dead_views[i]);
    for (Py_ssize_t i = 0; i < n_held; i++) Py_DECREF(held[i]);
    PyMem_Free(held);
    PyMem_Free(dead_views);
    PyMem_Free(views);
    Py_XDECREF(blocks);
    Py_XDECREF(deads);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    return result;
}

static PyObject *topk(PyObject *self, PyObject *args) { return topk_impl(args, 0); }

/* topk_codes(queries, metric, blocks, dead, slots, plan, out_d, out_ref, filled, rerank=0, eps=0) -> (rows read, rows re-ranked)
 *
 * topk's answer (the same top k, distances computed the same way) from blocks that hold int8 codes:
 * each row's distance is first bounded from its codes (a value is lo + scale * code within scale / 2,
 * so <q, x> is known within sum |q_d| scale_d / 2); the k smallest upper bounds cap the k-th distance,
 * and only rows whose lower bound reaches below that cap are read in full, nearest bound first,
 * stopping once no bound left can beat the k-th exact distance. Codes are a quarter of float32 rows.
 * rerank > 0 caps the rows read in full per query at that many (those with the smallest bounds): an
 * answer no longer guaranteed to be topk's, for fewer full rows read. Blocks with RaBitQ codes
 * (_rabitq.h) are scanned the same way with RaBitQ's estimate and its error bound, eps standard
 * deviations wide (0: RABITQ_EPS): that bound holds with high probability, not always.
 */
static PyObject *topk_codes(PyObject *self, PyObject *args) { return topk_impl(args, 1); }

/* codes_candidates(query, metric, blocks, dead, slots, plan, out_d, out_ref, filled, rerank=0, eps=0) -> (rows scanned, refs)
 *
 * The first phase of topk_codes for one query (1, dim), reading no row in full: the rows its codes
 * cannot rule out (for int8 a superset of topk's answer over these blocks; RaBitQ's bound holds with
 * high probability), nearest lower bound first, at most rerank of them (> 0), as int64 bytes of
 * block << 32 | row (block: an index into blocks). Blocks may hold codes only (ScanBlock(None, ...,
 * dim=)): a two-phase read (vectree/collection/coldcodes.py) then fetches just those rows. out_d,
 * out_ref and filled are as topk's and are only read (filled[0] = 0: none).
 */
static PyObject *codes_candidates(PyObject *self, PyObject *args) { return topk_impl(args, 2); }

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

#include "_centers.h"

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
    Py_BEGIN_ALLOW_THREADS
    widen_values(src, dst, n);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&bs);
    PyBuffer_Release(&bd);
    Py_RETURN_NONE;
}

#include "_resident.h"

static PyObject *simd(PyObject *self, PyObject *args) { return PyUnicode_FromString(simd_name); }

static PyMethodDef methods[] = {
    {"simd", simd, METH_NOARGS, "The inner loops in use: 'avx2+fma+f16c' or 'generic'."},
    {"widen", widen, METH_VARARGS, "float16 values into float32 (see the module source)."},
    {"topk", topk, METH_VARARGS, "Top-k of each query over its blocks (see the module source)."},
    {"topk_codes", topk_codes, METH_VARARGS, "topk through int8 codes, then exact distances (see the module source)."},
    {"codes_candidates", codes_candidates, METH_VARARGS, "The rows topk_codes would read in full (see the module source)."},
    {"offer_rows", offer_rows, METH_VARARGS, "Fold a block's distance matrix into running top-k lists (see the module source)."},
    {"rank_centers", rank_centers, METH_VARARGS, "The nearest centers of one query, exactly (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Compiled block scan.", -1, methods};

PyMODINIT_FUNC PyInit__scan(void) {
    rq_init();
    pick_variant();
    if (PyType_Ready(&ScanBlockType) < 0 || PyType_Ready(&ResidentType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ScanBlockType);
    if (PyModule_AddObject(m, "ScanBlock", (PyObject *)&ScanBlockType) < 0) {
        Py_DECREF(&ScanBlockType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ResidentType);
    if (PyModule_AddObject(m, "Resident", (PyObject *)&ResidentType) < 0) {
        Py_DECREF(&ResidentType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

"""Which buckets a filter can rule out from the index's per-bucket statistics alone, without fetching them.

Each condition of a filter is judged on a bucket's statistics (:mod:`vectree.index.bucketstats`)
as two answers: can some row make it true, can some row make it false. ``$and``, ``$or`` and
``$not`` combine those pairs (``$not`` swaps them), so the verdict "no row can match" is sound
under every operator: a bucket is ruled out only if none of its rows can match. With a field's
distinct values stored the judgement is exact; with only its min and max it is a range test; with
neither (or any doubt: a type that does not compare) the bucket is kept and its rows filtered
exactly, as without statistics.

>>> from vectree.collection.filters import parse_filter
>>> st = {"n": 3, "fields": {"label": {"type": "string", "count": 3, "min": "a", "max": "b", "values": ["a", "b"]}}}
>>> may_match(parse_filter({"label": "c"}), st), may_match(parse_filter({"$not": {"label": "c"}}), st)
(False, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vectree.collection.filters import COMPARISONS, SET_OPS, Filter, _like
from vectree.index.bucketstats import stats_array, stats_type

_NEGATED = ("$ne", "$nin")  # conditions rows without the field satisfy
_UNSURE = (True, True)


def may_match(flt: Filter, stats: dict[str, Any] | None) -> bool:
    """False only when no row described by ``stats`` can match ``flt`` (None: unknown, so True)."""
    if stats is None:
        return True
    try:
        return _judge(flt._tree, stats)[0]
    except (KeyError, TypeError, ValueError):  # statistics of an unexpected shape: keep the bucket
        return True


def _judge(node: tuple, stats: dict) -> tuple[bool, bool]:
    """(some row can make ``node`` true, some row can make it false)."""
    kind = node[0]
    if kind in ("$and", "$or"):
        parts = [_judge(p, stats) for p in node[1]]
        if kind == "$and":
            return all(t for t, _ in parts), any(f for _, f in parts)
        return any(t for t, _ in parts), all(f for _, f in parts)
    if kind == "$not":
        t, f = _judge(node[1], stats)
        return f, t
    _, field, op, operand = node
    entry = stats["fields"].get(field)
    n = int(stats["n"])
    negated = op in _NEGATED
    if entry is None:  # no row of the bucket has the field
        return negated, not negated
    count = int(entry["count"])
    t, f = _values(entry, op, operand) if count else (False, False)
    if count < n:  # rows without the field
        t, f = t or negated, f or not negated
    return t, f


def _values(entry: dict, op: str, operand: Any) -> tuple[bool, bool]:
    """The pair over the rows that hold a value (the same Arrow comparisons the per-row filter makes)."""
    typ = stats_type(entry["type"])
    if typ is None or "min" not in entry:
        return _UNSURE
    try:
        if "values" in entry:
            hit = _hits(stats_array(entry["values"], typ), op, operand, typ)
            return bool(hit.any()), bool((~hit).any())
        lo, hi = stats_array([entry["min"], entry["max"]], typ)
        return _range(lo, hi, op, operand, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return _UNSURE  # the per-row filter will say what is wrong, if it is


def _hits(values: pa.Array, op: str, operand: Any, typ: pa.DataType) -> np.ndarray:
    if op in SET_OPS:
        wanted = pa.array([_like(v, typ) for v in operand]).cast(typ) if operand else pa.array([], typ)
        hit = pc.is_in(values, value_set=wanted)
    else:
        hit = COMPARISONS[op](values, _like(operand, typ))
    hit = hit.to_numpy(zero_copy_only=False).astype(bool)
    return ~hit if op == "$nin" else hit


def _range(lo: pa.Scalar, hi: pa.Scalar, op: str, operand: Any, typ: pa.DataType) -> tuple[bool, bool]:
    """The pair for values somewhere in [lo, hi] (both of them present)."""
    if op in SET_OPS:
        wanted = [_like(v, typ) for v in operand]
        inside = any(_le(lo, v) and _le(v, hi) for v in wanted)
        single = _eq(lo, hi) and any(_eq(lo, v) for v in wanted)  # every value is one of them
        return (inside, not single) if op == "$in" else (not single, inside)
    v = _like(operand, typ)
    if op in ("$eq", "$ne"):
        inside, single = _le(lo, v) and _le(v, hi), _eq(lo, hi) and _eq(lo, v)
        return (inside, not single) if op == "$eq" else (not single, inside)
    if op == "$gt":
        return not _le(hi, v), _le(lo, v)
    if op == "$gte":
        return _le(v, hi), not _le(v, lo)
    if op == "$lt":
        return not _le(v, lo), _le(v, hi)
    return _le(lo, v), not _le(hi, v)  # $lte


def _le(a: pa.Scalar, b: pa.Scalar) -> bool:
    return bool(pc.less_equal(a, b).as_py())


def _eq(a: pa.Scalar, b: pa.Scalar) -> bool:
    return bool(pc.equal(a, b).as_py())

"""Filters: which rows a search may return, in a small language like Chroma's, Qdrant's and MongoDB's.

A filter is a dict. ``{"field": value}`` is equality; ``{"field": {"$op": value, ...}}`` applies each
operator (all must hold); several fields in one dict must all hold; ``$and`` / ``$or`` take a list
of filters and ``$not`` one filter::

    {"label": "cs.CL", "year": {"$gte": 2020}}
    {"$or": [{"label": {"$in": ["cs.CL", "cs.AI"]}}, {"date": {"$gte": "2026-01-01", "$lt": "2026-02-01"}}]}
    {"$not": {"id": {"$in": [3, 17]}}}

Fields: ``id``, ``label``, and any metadata field (strings, numbers, booleans, dates: ISO strings
such as "2026-01-31" are read as dates and compared as dates). Operators: ``$eq $ne $in $nin $gt
$gte $lt $lte``. A row without the field matches only ``$ne``, ``$nin`` and what ``$not`` negates.
A filter is evaluated per bucket on Arrow columns with ``pyarrow.compute`` (metadata JSON decoded
once per bucket with ``pyarrow.json``), giving a bool mask the scan kernel uses exactly as it uses
the mask of deleted rows: rows that do not match are never candidates (pre-filtering).

>>> f = parse_filter({"label": {"$in": ["a", "b"]}, "n": {"$gte": 2}})
>>> f.fields
['label', 'n']
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vectree.errors import InvalidInputError
from vectree.format.metadata import id_column, label_column, metadata_table

COMPARISONS = {
    "$eq": pc.equal,
    "$ne": pc.not_equal,
    "$gt": pc.greater,
    "$gte": pc.greater_equal,
    "$lt": pc.less,
    "$lte": pc.less_equal,
}
SET_OPS = ("$in", "$nin")
LOGICAL = ("$and", "$or", "$not")
_SCALARS = (str, int, float, bool, datetime.date, datetime.datetime)

Columns = Callable[[str], "pa.Array | None"]  # a field's column in one bucket, None if no row has it


class Filter:
    """A parsed, validated filter: call :meth:`mask` on a bucket's columns."""

    def __init__(self, tree: tuple, fields: list[str], text: str) -> None:
        self._tree = tree
        self.fields = fields
        self.text = text  # canonical JSON: the cache key of its masks

    def mask(self, columns: Columns, n: int) -> np.ndarray:
        """A bool array: True where the row matches."""
        return _eval(self._tree, columns, n)


def parse_filter(where: Any) -> Filter:
    """Check ``where`` and turn it into a :class:`Filter`; :class:`InvalidInputError` says what is wrong."""
    if not isinstance(where, dict) or not where:
        raise InvalidInputError(f"a filter is a non-empty dict such as {{'label': 'cs.CL'}}, got {where!r}")
    fields: list[str] = []
    tree = _parse(where, fields, "where")
    try:
        text = json.dumps(where, sort_keys=True, default=str)
    except TypeError as exc:
        raise InvalidInputError(f"filter values must be strings, numbers, booleans or dates: {exc}") from None
    return Filter(tree, sorted(set(fields), key=fields.index), text)


def _parse(node: Any, fields: list[str], where: str) -> tuple:
    if not isinstance(node, dict) or not node:
        raise InvalidInputError(f"{where}: expected a non-empty dict of fields or $and/$or/$not, got {node!r}")
    parts = []
    for key, value in node.items():
        if not isinstance(key, str):
            raise InvalidInputError(f"{where}: field names are strings, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise InvalidInputError(f"{where}.{key} takes a non-empty list of filters, got {value!r}")
            parts.append((key, [_parse(v, fields, f"{where}.{key}[{i}]") for i, v in enumerate(value)]))
        elif key == "$not":
            parts.append(("$not", _parse(value, fields, f"{where}.$not")))
        elif key.startswith("$"):
            raise InvalidInputError(
                f"{where}: unknown operator {key!r} at the top of a filter; use a field name, or one of {LOGICAL}"
            )
        else:
            fields.append(key)
            ops = value if isinstance(value, dict) else {"$eq": value}
            if not ops:
                raise InvalidInputError(f"{where}.{key}: an empty dict of conditions")
            for op, operand in ops.items():
                parts.append(("field", key, op, _operand(op, operand, f"{where}.{key}")))
    return ("$and", parts) if len(parts) > 1 else parts[0]


def _operand(op: Any, operand: Any, where: str) -> Any:
    if op in COMPARISONS:
        if not isinstance(operand, _SCALARS):
            raise InvalidInputError(f"{where}: {op} takes a string, number, boolean or date, got {operand!r}")
        return operand
    if op in SET_OPS:
        if not isinstance(operand, (list, tuple)) or not all(isinstance(v, _SCALARS) for v in operand):
            raise InvalidInputError(
                f"{where}: {op} takes a list of strings, numbers, booleans or dates, got {operand!r}"
            )
        return list(operand)
    raise InvalidInputError(f"{where}: unknown operator {op!r}; use one of {list(COMPARISONS) + list(SET_OPS)}")


def _eval(node: tuple, columns: Columns, n: int) -> np.ndarray:
    kind = node[0]
    if kind == "$and":
        out = np.ones(n, dtype=bool)
        for part in node[1]:
            out &= _eval(part, columns, n)
        return out
    if kind == "$or":
        out = np.zeros(n, dtype=bool)
        for part in node[1]:
            out |= _eval(part, columns, n)
        return out
    if kind == "$not":
        return ~_eval(node[1], columns, n)
    _, field, op, operand = node
    col = columns(field)
    if col is None:  # no row of this bucket has the field
        return np.full(n, op in ("$ne", "$nin"), dtype=bool)
    try:
        if op in SET_OPS:
            values = pa.array([_like(v, col.type) for v in operand]) if operand else pa.array([], col.type)
            hit = pc.is_in(col, value_set=values.cast(col.type))
        else:
            hit = COMPARISONS[op](col, _like(operand, col.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidInputError(
            f"cannot compare field {field!r} (stored as {col.type}) with {operand!r} using {op}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    if op == "$nin":
        return ~pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    if op == "$ne":
        return pc.fill_null(hit, True).to_numpy(zero_copy_only=False)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def _like(value: Any, typ: pa.DataType) -> pa.Scalar:
    """``value`` as a scalar comparable with a column of type ``typ`` (dates and timestamps from ISO strings)."""
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        if isinstance(value, str):
            return pc.cast(pa.scalar(value), typ)
        if isinstance(value, (datetime.date, datetime.datetime)):
            return pa.scalar(value).cast(typ)
    if pa.types.is_string(typ) and isinstance(value, (datetime.date, datetime.datetime)):
        return pa.scalar(value.isoformat())
    if isinstance(value, bool) and not pa.types.is_boolean(typ):
        raise pa.ArrowInvalid(f"a boolean against a {typ} field")
    if pa.types.is_boolean(typ) and not isinstance(value, bool):
        raise pa.ArrowInvalid(f"a {type(value).__name__} against a boolean field")
    return pa.scalar(value)


def block_columns(rows: Any, derived: dict) -> Columns:
    """The columns a filter reads in one bucket (``id``, ``label``, metadata fields), decoded once and kept in
    ``derived``."""

    def columns(field: str) -> pa.Array | None:
        key = "filter:" + field
        if key in derived:
            return derived[key]
        if field == "id":
            col = id_column(rows.ids)
        elif field == "label":
            col = label_column(rows.labels)
        else:
            table = derived.get("filter:metadata")
            if table is None:
                table = derived.setdefault("filter:metadata", metadata_table(rows.metadata, len(rows.ids)))
            col = table.column(field).combine_chunks() if field in table.column_names else None
        return derived.setdefault(key, col)

    return columns

"""Arrow arrays built from their buffers, never through ``pa.array``.

``pa.array`` imports pandas whenever pandas is installed (pyarrow's pandas shim asks whether the input
is a pandas object), numpy arrays and Python lists alike: 42 MB of resident memory in a process that
only writes buckets (measured: 60 MB after ``import vectree``, 102 MB once pandas is in). The writers
build the same arrays from their buffers instead; numeric arrays stay zero-copy views of the numpy
array, as ``pa.array`` made them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def _validity(mask: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    """The validity bitmap (bit set = value present) of ``mask`` (True = null), and the null count."""
    if mask is None:
        return None, 0
    mask = np.asarray(mask, dtype=bool)
    nulls = int(mask.sum())
    if not nulls:
        return None, 0
    return pa.py_buffer(np.packbits(~mask, bitorder="little")), nulls


def numeric_array(values: np.ndarray, typ: pa.DataType | None = None, mask: np.ndarray | None = None) -> pa.Array:
    """A 1-d numeric numpy array as an Arrow array of ``typ`` (default: the array's own type), zero-copy
    when the dtype already matches; ``mask`` marks nulls.

    >>> numeric_array(np.array([1, 2, 3]), pa.int64()).to_pylist()
    [1, 2, 3]
    >>> numeric_array(np.array([1, 0, 3]), pa.int64(), mask=np.array([False, True, False])).to_pylist()
    [1, None, 3]
    >>> numeric_array(np.array([0.5], np.float32)).type
    DataType(float)
    """
    typ = pa.from_numpy_dtype(np.asarray(values).dtype) if typ is None else typ
    if pa.types.is_boolean(typ) or not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        raise ValueError(f"numeric_array takes integer or floating types, got {typ}")
    arr = np.ascontiguousarray(np.asarray(values).reshape(-1), dtype=typ.to_pandas_dtype())
    validity, nulls = _validity(mask)
    return pa.Array.from_buffers(typ, len(arr), [validity, pa.py_buffer(arr)], null_count=nulls)


def string_array(values: Sequence[str | None]) -> pa.Array:
    """Python strings (or None for a null) as an Arrow ``string`` array.

    >>> string_array(["a", None, "bc"]).to_pylist()
    ['a', None, 'bc']
    """
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError(f"{offsets[-1]} bytes of strings do not fit one Arrow string array (2 GiB at most)")
    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(encoded))
    validity, nulls = _validity(mask)
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [validity, pa.py_buffer(offsets.astype(np.int32)), data], null_count=nulls
    )


def int_values(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A null-free integer Arrow array as numpy: zero-copy for one array, one copy joining a chunked one
    (``to_numpy`` would import pandas).

    >>> int_values(pa.chunked_array([numeric_array(np.array([1, 2])), numeric_array(np.array([3]))])).tolist()
    [1, 2, 3]
    """
    if isinstance(arr, pa.ChunkedArray):
        dtype = np.dtype(str(arr.type))
        parts = [int_values(c) for c in arr.chunks]
        return np.concatenate(parts) if parts else np.empty(0, dtype)
    dtype = np.dtype(str(arr.type))  # "int64", "uint8"...: the same names in both libraries
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def valid_mask(arr: pa.Array) -> np.ndarray:
    """Which values of ``arr`` are present (not null), from its validity bitmap (``is_valid`` would import
    pyarrow.compute).

    >>> valid_mask(numeric_array(np.array([1, 0, 3]), mask=np.array([False, True, False]))).tolist()
    [True, False, True]
    """
    bitmap = arr.buffers()[0]
    if bitmap is None or arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)].astype(bool)

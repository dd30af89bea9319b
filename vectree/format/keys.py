"""Ids to 64-bit keys: int ids are their own key; str ids hash to one (blake2b, 8 bytes)."""

from __future__ import annotations

import hashlib
import io

import numpy as np

from vectree.errors import CorruptionError
from vectree.format.fingerprint import check_fingerprint, fingerprint


def id_keys(ids: np.ndarray) -> np.ndarray:
    """Return the int64 key of each id.

    Keys make membership tests (duplicates, deletes) a sorted-array search. A 64-bit hash of
    str ids collides with probability about n^2 / 2^65 (3e-6 for ten million ids).

    >>> id_keys(np.array([3, 5])).tolist()
    [3, 5]
    """
    if ids.dtype != object:
        return ids.astype(np.int64, copy=False)
    out = np.empty(len(ids), dtype=np.int64)
    for i, s in enumerate(ids):
        out[i] = int.from_bytes(hashlib.blake2b(str(s).encode(), digest_size=8).digest(), "little", signed=True)
    return out


def encode_keys(keys: np.ndarray) -> tuple[bytes, str]:
    """A segment's sorted id keys as an .npy object, and its fingerprint.

    >>> data, fp = encode_keys(np.array([5, 3]))
    >>> decode_keys(data, fp).tolist()
    [3, 5]
    """
    buf = io.BytesIO()
    np.save(buf, np.sort(keys).astype(np.int64), allow_pickle=False)
    data = buf.getvalue()
    return data, fingerprint(data)


def decode_keys(data: bytes, fp: str) -> np.ndarray:
    """The key list object named ``fp``, checked against its fingerprint."""
    check_fingerprint(data, fp, f"key list {fp}")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise CorruptionError(f"key list {fp} cannot be decoded: {exc}") from exc

"""Ids to 64-bit keys: int ids are their own key; str ids hash to one (blake2b, 8 bytes)."""

from __future__ import annotations

import hashlib
import io
from typing import NamedTuple

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


class KeyList(NamedTuple):
    """A segment's key list object: its sorted id keys and, when its writer had an index, the routing of
    its rows: ``(index fingerprint, the bucket of each row under that index, in the segment's row order)``
    (see :mod:`vectree.collection.routing`)."""

    keys: np.ndarray
    routing: tuple[str, np.ndarray] | None = None


def encode_keys(
    keys: np.ndarray, write_id: str | None = None, routing: tuple[str, np.ndarray] | None = None
) -> tuple[bytes, str]:
    """A segment's sorted id keys as an .npy object (or, with ``write_id``, an .npz that also records
    the write, so the object is unique to it and can be removed if the write fails, and the ``routing``
    of its rows when given), and its fingerprint.

    >>> data, fp = encode_keys(np.array([5, 3]))
    >>> decode_keys(data, fp).tolist()
    [3, 5]
    >>> data, fp = encode_keys(np.array([5, 3]), write_id="w1", routing=("ab12", np.array([4, 0])))
    >>> got = decode_key_list(data, fp); got.keys.tolist(), got.routing[0], got.routing[1].tolist()
    ([3, 5], 'ab12', [4, 0])
    """
    buf = io.BytesIO()
    sorted_keys = np.sort(keys).astype(np.int64)
    if routing is not None and not write_id:
        raise ValueError("a key list records a routing only with its write (the .npz form)")
    if write_id:
        extra = {} if routing is None else {"routed_index": np.array(routing[0]), "routed_buckets": routing[1]}
        np.savez(buf, keys=sorted_keys, write=np.array(write_id), **extra)
    else:
        np.save(buf, sorted_keys, allow_pickle=False)
    data = buf.getvalue()
    return data, fingerprint(data)


def decode_keys(data: bytes, fp: str) -> np.ndarray:
    """The sorted keys of the key list object named ``fp`` (either form), checked against its fingerprint."""
    return decode_key_list(data, fp).keys


def decode_key_list(data: bytes, fp: str) -> KeyList:
    """The key list object named ``fp`` (either form, with its routing if it records one), checked
    against its fingerprint."""
    check_fingerprint(data, fp, f"key list {fp}")
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return KeyList(loaded)
        routing = None
        if "routed_index" in loaded.files:
            buckets = loaded["routed_buckets"].astype(np.int64)
            buckets.flags.writeable = False
            routing = (str(loaded["routed_index"]), buckets)
        return KeyList(loaded["keys"], routing)
    except (ValueError, KeyError, OSError) as exc:
        raise CorruptionError(f"key list {fp} cannot be decoded: {exc}") from exc

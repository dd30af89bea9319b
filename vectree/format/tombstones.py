"""Tombstones: the deleted rows of a version, as (file fingerprint -> sorted id keys), one .npz object."""

from __future__ import annotations

import io

import numpy as np

from vectree.errors import CorruptionError
from vectree.format.fingerprint import check_fingerprint, fingerprint


def encode_tombstones(tomb: dict[str, np.ndarray]) -> tuple[bytes, str]:
    """The tombstone object for ``{file fingerprint: deleted keys}``, and its fingerprint.

    >>> data, fp = encode_tombstones({"ab": np.array([7, 2])})
    >>> {f: k.tolist() for f, k in decode_tombstones(data, fp).items()}
    {'ab': [2, 7]}
    """
    fps = sorted(tomb)
    buf = io.BytesIO()
    counts = np.array([len(tomb[f]) for f in fps], dtype=np.int64)
    keys = np.concatenate([np.sort(tomb[f]) for f in fps]) if fps else np.empty(0, np.int64)
    np.savez(buf, fingerprints=np.array(fps, dtype="U64"), counts=counts, keys=keys.astype(np.int64))
    data = buf.getvalue()
    return data, fingerprint(data)


def decode_tombstones(data: bytes, fp: str) -> dict[str, np.ndarray]:
    """The tombstone object named ``fp``, checked against its fingerprint."""
    check_fingerprint(data, fp, f"tombstone file {fp}")
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        bounds = np.concatenate([[0], np.cumsum(z["counts"])])
        return {str(f): z["keys"][bounds[i] : bounds[i + 1]] for i, f in enumerate(z["fingerprints"])}
    except (ValueError, KeyError) as exc:
        raise CorruptionError(f"tombstone file {fp} cannot be decoded: {exc}") from exc

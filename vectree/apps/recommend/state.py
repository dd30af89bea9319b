"""Fitted recommender objects as JSON plus numpy arrays, never pickle: what a collection reads must not
be able to run code.

``encode(obj)`` walks an object of a known class (``KNOWN``) and returns ``(tree, arrays)``: ``tree`` is
plain JSON (numbers, strings, lists, maps, ``None``), each numpy array is replaced by a reference into
``arrays``, and a list of 1-d arrays (user histories) is stored once as their concatenation plus lengths.
``decode(tree, arrays)`` rebuilds it, creating only classes named in ``KNOWN`` (any other name is refused).
``to_npz`` / ``from_npz`` write and read the arrays with ``allow_pickle=False``.

>>> import numpy as np
>>> tree, arrays = encode({"n": 3, "hist": [np.arange(2), np.arange(3)], "w": np.ones(2, np.float32)})
>>> back = decode(tree, from_npz(to_npz(arrays)))
>>> back["n"], [h.tolist() for h in back["hist"]], back["w"].dtype.name
(3, [[0, 1], [0, 1, 2]], 'float32')
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from vectree.errors import InvalidInputError

KNOWN: dict[str, type] = {}  # class name -> class; filled by ``register``


def register(cls: type) -> type:
    """Allow instances of ``cls`` (their ``__dict__``) to be encoded and decoded. Returns ``cls``."""
    KNOWN[cls.__name__] = cls
    return cls


def _is_ragged(v: list) -> bool:
    return bool(v) and all(isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype == v[0].dtype for a in v)


def encode(obj: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """``(tree, arrays)`` for ``obj``: see the module docstring."""
    arrays: dict[str, np.ndarray] = {}

    def add(a: np.ndarray) -> str:
        if a.dtype.hasobject:
            raise InvalidInputError(
                f"cannot store an object array (dtype {a.dtype}); convert it to a plain dtype first"
            )
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(a)
        return key

    def walk(v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, (np.bool_, np.integer, np.floating)):
            return v.item()
        if isinstance(v, np.ndarray):
            return {"$array": add(v)}
        if isinstance(v, (list, tuple)):
            if _is_ragged(list(v)):
                lengths = np.array([a.size for a in v], dtype=np.int64)
                return {"$ragged": add(np.concatenate(v)), "lengths": add(lengths)}
            return [walk(x) for x in v]
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise InvalidInputError(f"only maps with string keys can be stored, got keys {list(v)[:3]}")
            return {"$map": {k: walk(x) for k, x in v.items()}}
        name = type(v).__name__
        if KNOWN.get(name) is not type(v):
            raise InvalidInputError(
                f"cannot store a {name}: not one of the recommender's known classes {sorted(KNOWN)}"
            )
        return {"$object": name, "state": {k: walk(x) for k, x in vars(v).items()}}

    return walk(obj), arrays


def decode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of ``encode``; refuses class names not in ``KNOWN`` and references to missing arrays."""

    def get(key: str) -> np.ndarray:
        if key not in arrays:
            raise InvalidInputError(f"stored state refers to array {key!r}, which is missing")
        return arrays[key]

    def walk(v: Any) -> Any:
        if isinstance(v, list):
            return [walk(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "$array" in v:
            return get(v["$array"])
        if "$ragged" in v:
            flat, lengths = get(v["$ragged"]), get(v["lengths"])
            return np.split(flat, np.cumsum(lengths)[:-1])
        if "$map" in v:
            return {k: walk(x) for k, x in v["$map"].items()}
        if "$object" in v:
            cls = KNOWN.get(v["$object"])
            if cls is None:
                raise InvalidInputError(
                    f"stored state names class {v['$object']!r}, which is not a known recommender class"
                )
            obj = cls.__new__(cls)
            obj.__dict__.update({k: walk(x) for k, x in v["state"].items()})
            return obj
        raise InvalidInputError(f"stored state has an unknown entry {sorted(v)[:3]}")

    return walk(tree)


def to_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as one uncompressed ``.npz`` archive."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_npz(data: bytes) -> dict[str, np.ndarray]:
    """Read an archive written by ``to_npz`` (``allow_pickle=False``: object arrays are refused)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise InvalidInputError(f"stored arrays are not a plain .npz archive ({exc})") from exc

"""The ``_latest`` pointer: the newest version's number and manifest in one object, and its index beside it.

A stateless reader's first round trip is two GETs sent together: ``_latest`` and ``_latest.index``
(:data:`~vectree.format.object_keys.LATEST_INDEX`, the bytes of the index the newest build or
compaction committed). With everything a search needs to route in them, the second round trip already
fetches the probed buckets, whatever the size of the index. Layout of ``_latest`` (format 2)::

    b"vectree-pointer 2\\n"
    one line of JSON: {"version": N, "manifest": <bytes>, "index": <bytes, 0 when not inlined>}
    the manifest of version N (exactly the bytes of manifests/<N>.json)
    the index the manifest names (exactly the bytes of index/<fp>.npz), when inlined

Writers no longer inline the index (it was capped at 8 MiB, so a 10M-row index cost readers a third
round trip, and every commit, a one-row add too, rewrote up to 8 MiB of pointer): ``_latest.index`` is
written only by commits that change the index, before ``_latest``. Pointers that inline it (written
before) are still read, and win over ``_latest.index``.

Nothing in either object is new information: the manifest carries its own checksum and names the index
by its fingerprint, so a reader checks both exactly as when it reads them from their own objects; an
``_latest.index`` that is not the manifest's index (a build committed between the two GETs) is ignored
and ``index/<fp>`` read instead. The pointer is written with an atomic put after the manifest is
committed, so it is never half-written, and at worst it names the version before a writer that crashed
between the two: readers check that ``manifests/<N+1>`` does not exist (a request that overlaps their
bucket reads). Format 1, still read, is the version number alone in decimal, as written before the
pointer carried anything.

>>> data = encode_pointer(7, b'{"m": 1}', b"index-bytes")
>>> p = decode_pointer(data); p.version, p.manifest, p.index
(7, b'{"m": 1}', b'index-bytes')
>>> decode_pointer(encode_pointer(8, b'{"m": 2}')).index is None
True
>>> decode_pointer(b"12").version, decode_pointer(b"12").manifest
(12, None)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vectree.errors import CorruptionError

MAGIC = b"vectree-pointer 2\n"


@dataclass(frozen=True)
class Pointer:
    version: int
    manifest: bytes | None = None  # None: a format 1 pointer (the number only)
    index: bytes | None = None  # None: not inlined


def encode_pointer(version: int, manifest: bytes, index: bytes | None = None) -> bytes:
    """The pointer object naming ``version``, with its manifest and, if given, its index inlined."""
    header = json.dumps({"version": int(version), "manifest": len(manifest), "index": len(index or b"")})
    return b"".join([MAGIC, header.encode(), b"\n", manifest, index or b""])


def decode_pointer(data: bytes | memoryview) -> Pointer:
    """Parse a pointer of either format; :class:`CorruptionError` if it is neither."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        try:
            return Pointer(int(data.decode().strip()))
        except (UnicodeDecodeError, ValueError):
            raise CorruptionError(
                f"the _latest pointer is neither a version number nor a pointer: {data[:40]!r}"
            ) from None
    try:
        end = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC) : end])
        version, m, i = int(header["version"]), int(header["manifest"]), int(header["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptionError(f"the _latest pointer's header cannot be read: {exc}") from None
    body = data[end + 1 :]
    if len(body) != m + i or m <= 0 or i < 0:
        raise CorruptionError(f"the _latest pointer holds {len(body)} bytes after its header, not {m} + {i}")
    return Pointer(version, body[:m], body[m:] if i else None)

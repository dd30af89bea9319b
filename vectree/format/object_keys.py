"""The names of the objects a collection stores: the only module that spells a store key.

Content objects are named ``<folder>/<fingerprint>.<ext>`` (the fingerprint is the hash of their
bytes, so a name never points at two contents); manifests by version, tags by name::

    manifests/0000000007.json      version 7 (the commit point)
    index/<fp>.npz                 projection, tree, bucket fingerprints and centers
    buckets/<fp>.arrow             the rows of one bucket of the tree
    segments/<fp>.arrow            rows added since the last build (the tail)
    keys/<fp>.npz (or .npy)        a segment's sorted id keys (.npy before writes were recorded)
    idmap/<fp>.npz                 one shard of the id -> bucket map
    tombstones/<fp>.npz            deleted rows
    attachments/<fp>.bin           named blobs (embedder, classifier settings, keyword index)
    tags/<name>.json               a named version
    _latest                        hint: the newest version, with its manifest and index (format/pointer.py)
    _expired.json                  hint: the versions a cleanup removed

>>> bucket_key("3fa9"), rows_key(SEGMENTS, "3fa9"), manifest_key(7)
('buckets/3fa9.arrow', 'segments/3fa9.arrow', 'manifests/0000000007.json')
>>> version_of_manifest_key(manifest_key(7)), id_keys_key("ab", with_write=False)
(7, 'keys/ab.npy')
>>> all(k.startswith(DATA_PREFIXES) for k in (index_key("a"), idmap_key("a"), tombstones_key("a")))
True
"""

from __future__ import annotations

BUCKETS = "buckets"  # folder of the tree's buckets
SEGMENTS = "segments"  # folder of the unindexed tail
MANIFESTS = "manifests/"
TAGS = "tags/"
LATEST = "_latest"  # hint: the newest committed version and its manifest (vectree/format/pointer.py)
LATEST_INDEX = "_latest.index"  # the bytes of the index the newest build committed (read with _latest)
EXPIRED = "_expired.json"  # versions a cleanup deleted, as [first, last] ranges: verify does not report them missing
# folders of content-named objects (what cleanup may delete once no kept version refers to them)
DATA_PREFIXES = ("index/", "buckets/", "segments/", "keys/", "idmap/", "tombstones/", "attachments/")


def rows_key(folder: str, fp: str) -> str:
    """A file of rows: ``folder`` is :data:`BUCKETS` or :data:`SEGMENTS`.

    >>> rows_key(BUCKETS, "ab")
    'buckets/ab.arrow'
    """
    return f"{folder}/{fp}.arrow"


def bucket_key(fp: str) -> str:
    """The bucket file with fingerprint ``fp``.

    >>> bucket_key("ab")
    'buckets/ab.arrow'
    """
    return rows_key(BUCKETS, fp)


def segment_key(fp: str) -> str:
    """The tail segment file with fingerprint ``fp``.

    >>> segment_key("ab")
    'segments/ab.arrow'
    """
    return rows_key(SEGMENTS, fp)


def index_key(fp: str) -> str:
    """The index file with fingerprint ``fp``.

    >>> index_key("ab")
    'index/ab.npz'
    """
    return f"index/{fp}.npz"


def idmap_key(fp: str) -> str:
    """A shard of the id map.

    >>> idmap_key("ab")
    'idmap/ab.npz'
    """
    return f"idmap/{fp}.npz"


def tombstones_key(fp: str) -> str:
    """A tombstone list.

    >>> tombstones_key("ab")
    'tombstones/ab.npz'
    """
    return f"tombstones/{fp}.npz"


def id_keys_key(fp: str, *, with_write: bool) -> str:
    """A segment's sorted id key list: ``.npz`` naming its write, ``.npy`` as written before writes were recorded.

    >>> id_keys_key("ab", with_write=True)
    'keys/ab.npz'
    """
    return f"keys/{fp}.{'npz' if with_write else 'npy'}"


def attachment_key(fp: str) -> str:
    """An attachment's bytes.

    >>> attachment_key("ab")
    'attachments/ab.bin'
    """
    return f"attachments/{fp}.bin"


def manifest_key(version: int) -> str:
    """The manifest of ``version``.

    >>> manifest_key(12)
    'manifests/0000000012.json'
    """
    return f"{MANIFESTS}{version:010d}.json"


def version_of_manifest_key(key: str) -> int:
    """The version a manifest key names (the inverse of :func:`manifest_key`).

    >>> version_of_manifest_key("manifests/0000000012.json")
    12
    """
    return int(key.rsplit("/", 1)[1].split(".")[0])


def is_manifest_key(key: str) -> bool:
    """Whether a listed key is a manifest (not a stray upload or a lock).

    >>> is_manifest_key("manifests/0000000012.json"), is_manifest_key("manifests/x.tmp")
    (True, False)
    """
    return key.startswith(MANIFESTS) and key.endswith(".json")


def tag_key(name: str) -> str:
    """The object of tag ``name`` (names are checked by the caller).

    >>> tag_key("v1")
    'tags/v1.json'
    """
    return f"{TAGS}{name}.json"


def tag_of_key(key: str) -> str | None:
    """The tag name a listed key holds, or None if it is not a tag.

    >>> tag_of_key("tags/v1.json"), tag_of_key("tags/v1.tmp")
    ('v1', None)
    """
    if key.startswith(TAGS) and key.endswith(".json"):
        return key[len(TAGS) : -len(".json")]
    return None

"""Manifests are written as ``json.dumps(body, indent=1, sort_keys=True)`` byte for byte (the checksum is
defined on it), however they are made fast: older and newer manifests read and check alike."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

import vectree
from vectree.collection.manifest import MANIFEST_FORMAT, Manifest, SegmentRef, _canonical, _encode, manifest_key
from vectree.format.fingerprint import FINGERPRINT_ALGORITHM


def _reference(m: Manifest) -> bytes:
    body = dataclasses.asdict(m)
    body["format"] = MANIFEST_FORMAT
    body["fingerprint_algorithm"] = FINGERPRINT_ALGORITHM
    body["checksum"] = hashlib_checksum(body)
    return json.dumps(body, indent=1, sort_keys=True).encode()


def hashlib_checksum(body: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(body, indent=1, sort_keys=True).encode()).hexdigest()


def test_stored_manifests_are_the_reference_json(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine")
    x = arxiv_sample["vectors"][:40]
    for i in range(12):  # single-row adds: a tail of many segments
        col.add(x[i : i + 1], ids=[i], labels=['a\u00e9"b'], metadata=[{"t": "x"}])
    col.add(x[12:40], ids=np.arange(12, 40))
    col.build()
    col.add(x[:1] + 0.1, ids=[100])
    col.delete([3])
    col.put_attachment("notes \u2603", b"hello")
    for v in col.store.list("manifests/"):
        version = int(v.rsplit("/", 1)[1].split(".")[0])
        data = col.store.get(manifest_key(version))
        m = Manifest.from_bytes(data, version)
        assert m.to_bytes() == data == _reference(m), version
    assert (
        len(col._snap.manifest.segments) == 1
        and len(Manifest.from_bytes(col.store.get(manifest_key(13)), 13).segments) == 13
    )


def test_segment_template_is_the_reference_encoding():
    segs = (SegmentRef("f" * 64, 2, "k" * 64, "w-0"), SegmentRef("a", 1, "b", ""))
    body = {"version": 1, "x": {"y": [1, 2]}, "note": 'caf\u00e9 "q"'}
    assert _encode(body, segs) == _canonical({**body, "segments": [dataclasses.asdict(g) for g in segs]})
    assert _encode(body, ()) == _canonical({**body, "segments": []})

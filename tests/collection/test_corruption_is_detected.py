"""Damaged or missing files are detected by fingerprint: never silently wrong neighbours."""

from pathlib import Path

import pytest

import vectree
from vectree.errors import CorruptionError, NotFoundError


@pytest.fixture()
def built(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=400)
    col.add(arxiv_sample["vectors"][:2000], ids=arxiv_sample["ids"][:2000])
    col.build()
    return tmp_path / "c", col


def _bucket_files(root: Path) -> list[Path]:
    return sorted((root / "buckets").glob("*.arrow"))


def test_flipped_byte_in_a_bucket_is_named_on_search_and_by_verify(built, arxiv_sample):
    root, col = built
    victim = _bucket_files(root)[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 3] ^= 0x01
    victim.write_bytes(bytes(data))
    fresh = vectree.open_collection(root)
    with pytest.raises(CorruptionError, match=victim.stem[:16]):
        fresh.search(arxiv_sample["vectors"][:50], k=5, exact=True)
    report = fresh.verify()
    assert not report.ok and len(report.problems) == 1 and victim.stem in report.problems[0]


def test_truncated_and_missing_buckets_are_all_listed(built):
    root, col = built
    files = _bucket_files(root)
    files[0].write_bytes(files[0].read_bytes()[:100])
    files[1].unlink()
    report = vectree.open_collection(root).verify()
    assert len(report.problems) == 2
    assert any(files[0].stem in p for p in report.problems) and any(files[1].stem in p for p in report.problems)


def test_a_damaged_index_or_manifest_is_a_clear_error(built, arxiv_sample):
    root, col = built
    index_file = next((root / "index").glob("*.npz"))
    index_file.write_bytes(b"garbage")
    # the _latest pointer holds a copy of the index, checked by the same fingerprint: reads go on, verify tells
    reader = vectree.open_collection(root)
    assert len(reader.search(arxiv_sample["vectors"][:1], k=1).ids[0]) == 1
    assert any("index" in p for p in reader.verify().problems)
    (root / "_latest").write_text(str(col.version))  # a pointer without the copy: the index object is read
    with pytest.raises(CorruptionError, match="index"):
        vectree.open_collection(root).search(arxiv_sample["vectors"][:1], k=1)
    manifest = sorted((root / "manifests").glob("*.json"))[-1]
    manifest.write_text("{not json")
    newest = int(manifest.stem)
    with pytest.raises(CorruptionError, match="manifest of version"):
        vectree.open_collection(root, version=newest)
    older = vectree.open_collection(root)  # the newest readable version, saying what it skipped
    assert older.version == newest - 1
    assert len(older.skipped_versions) == 1 and "manifest of version" in older.skipped_versions[0]
    assert any("manifest of version" in p for p in older.verify().problems)


def test_a_missing_segment_is_reported(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine")
    col.add(arxiv_sample["vectors"][:10])
    next((tmp_path / "c" / "segments").glob("*.arrow")).unlink()
    with pytest.raises(NotFoundError):
        vectree.open_collection(tmp_path / "c").search(arxiv_sample["vectors"][:1], k=1)
    assert len(vectree.open_collection(tmp_path / "c").verify().problems) == 1


@pytest.mark.parametrize("id_kind", ["str", "int"])  # int ids: re-reads skip Arrow, a replaced file must not
def test_a_bucket_replaced_after_it_was_read_is_checked_again(tmp_path, arxiv_sample, id_kind):
    root = tmp_path / "c"
    ids = arxiv_sample["ids"][:2000] if id_kind == "str" else list(range(0, 14000, 7))
    built = vectree.create_collection(root, dim=384, metric="cosine", bucket_size=400)
    built.add(arxiv_sample["vectors"][:2000], ids=ids)
    built.build()
    col = vectree.open_collection(root, cache_bytes=1)  # nothing stays cached: every search reads the files
    q = arxiv_sample["vectors"][:20]
    col.search(q, k=5, exact=True)  # every bucket read and its hash checked once
    victim = _bucket_files(root)[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    tmp = victim.with_suffix(".tmp")
    tmp.write_bytes(bytes(data))
    tmp.replace(victim)  # a different file under the same name
    with pytest.raises(CorruptionError, match=victim.stem[:16]):
        col.search(q, k=5, exact=True)


def test_the_manifest_names_its_fingerprint_algorithm(built, arxiv_sample):
    import json

    root, col = built
    manifest = sorted((root / "manifests").glob("*.json"))[-1]
    body = json.loads(manifest.read_text())
    assert body["fingerprint_algorithm"] == "sha256"
    del body["fingerprint_algorithm"]  # as manifests written before it (and the checksum) was recorded
    del body["checksum"]
    manifest.write_text(json.dumps(body))
    assert vectree.open_collection(root).search(arxiv_sample["vectors"][:1], k=1).ids[0, 0] == arxiv_sample["ids"][0]
    body["fingerprint_algorithm"] = "blake3"  # a file named by a hash this vectree cannot check
    manifest.write_text(json.dumps(body))
    with pytest.raises(CorruptionError, match="'blake3' fingerprints|checksum"):
        vectree.open_collection(root, version=int(manifest.stem))

"""A bucket read again after eviction (same file) is read at its recorded offsets, without Arrow or a hash."""

import numpy as np
import pytest

import vectree
import vectree.collection.snapshot as snapshot
from vectree.errors import CorruptionError


@pytest.fixture()
def root(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=200)
    col.add(arxiv_sample["vectors"][:3000], ids=np.arange(3000) * 7)
    col.build()
    return tmp_path / "c"


def test_rereads_give_the_same_answer_without_decoding(root, arxiv_sample, monkeypatch):
    col = vectree.open_collection(root, cache_bytes=1)  # nothing stays cached: every search reads the files
    q = arxiv_sample["vectors"][3000:3020]
    first = col.search(q, k=10, probes=6)
    assert first.ids.max() > 0 and (first.ids % 7 == 0).all()

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a bucket already read was decoded with Arrow again")

    monkeypatch.setattr(snapshot, "decode_rows_with_layout", refuse)
    again = col.search(q, k=10, probes=6)
    np.testing.assert_array_equal(again.ids, first.ids)
    np.testing.assert_array_equal(again.distances, first.distances)


def test_a_replaced_file_is_decoded_and_checked_again(root, arxiv_sample):
    col = vectree.open_collection(root, cache_bytes=1)
    q = arxiv_sample["vectors"][3000:3020]
    col.search(q, k=5, exact=True)  # every bucket read, checked and its layout recorded
    victim = sorted((root / "buckets").glob("*.arrow"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    tmp = victim.with_suffix(".tmp")
    tmp.write_bytes(bytes(data))
    tmp.replace(victim)  # a different file under the same name
    with pytest.raises(CorruptionError, match=victim.stem[:16]):
        col.search(q, k=5, exact=True)

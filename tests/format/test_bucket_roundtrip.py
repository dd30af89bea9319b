"""A bucket file keeps ids, vectors, labels and metadata exactly, and is named by its content."""

import numpy as np
import pytest

from vectree.errors import CorruptionError
from vectree.format import Rows, decode_rows, encode_rows, fingerprint


def test_round_trip_keeps_every_column(arxiv_sample):
    vec = arxiv_sample["vectors"][:50]
    rows = Rows(
        ids=np.array(arxiv_sample["ids"][:50], dtype=object),
        vectors=vec,
        labels=np.array(arxiv_sample["categories"][:50], dtype=object),
        metadata=['{"title":"x"}'] * 49 + [None],
    )
    data, fp = encode_rows(rows)
    back = decode_rows(data, fp)
    assert fp == fingerprint(data)
    assert back.ids.tolist() == arxiv_sample["ids"][:50]
    np.testing.assert_array_equal(back.vectors, vec)
    assert back.labels.tolist() == arxiv_sample["categories"][:50]
    assert back.metadata[-1] is None and back.metadata[0] == '{"title":"x"}'


def test_same_rows_give_same_fingerprint_and_different_rows_do_not(arxiv_sample):
    vec = arxiv_sample["vectors"][:10]
    a = encode_rows(Rows(ids=np.arange(10), vectors=vec))[1]
    b = encode_rows(Rows(ids=np.arange(10), vectors=vec.copy()))[1]
    c = encode_rows(Rows(ids=np.arange(1, 11), vectors=vec))[1]
    assert a == b != c


def test_int_labels_with_gaps_come_back_as_none():
    rows = Rows(ids=np.arange(3), vectors=np.eye(3, dtype=np.float32), labels=np.array([1, None, 3], dtype=object))
    data, fp = encode_rows(rows)
    assert decode_rows(data, fp).labels.tolist() == [1, None, 3]


def test_float16_storage_halves_vector_bytes(arxiv_sample):
    rows = Rows(ids=np.arange(200), vectors=arxiv_sample["vectors"][:200])
    full, _ = encode_rows(rows)
    half, fp = encode_rows(rows, dtype="float16")
    assert len(half) < 0.6 * len(full)
    np.testing.assert_allclose(decode_rows(half, fp).vectors, rows.vectors, atol=1e-3)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_bytes_are_refused_naming_the_bucket(damage):
    data, fp = encode_rows(Rows(ids=np.arange(4), vectors=np.ones((4, 8), np.float32)))
    bad = bytearray(data)
    if damage == "flip":
        bad[len(bad) // 2] ^= 0xFF
    else:
        bad = bad[: len(bad) // 2]
    with pytest.raises(CorruptionError, match=fp[:16]):
        decode_rows(bytes(bad), fp)


def test_bytes_that_match_but_are_not_a_bucket_fail_to_decode_clearly():
    junk = b"not an arrow file"
    with pytest.raises(CorruptionError, match="cannot be decoded"):
        decode_rows(junk, fingerprint(junk))

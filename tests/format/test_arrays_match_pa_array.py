"""The writers' arrays built from buffers (``vectree.format.arrays``) equal what ``pa.array`` builds, nulls
and types included, so bucket files read back the same."""

import numpy as np
import pyarrow as pa
import pytest

from vectree.format.arrays import int_values, numeric_array, string_array, valid_mask
from vectree.format.bucket import Rows, decode_rows, encode_rows


@pytest.mark.parametrize(
    ("dtype", "typ"),
    [
        (np.int64, pa.int64()),
        (np.int32, pa.int32()),
        (np.uint8, pa.uint8()),
        (np.float32, pa.float32()),
        (np.float16, pa.float16()),
        (np.float64, pa.float64()),
    ],
)
def test_numeric_arrays_equal_pa_array(dtype, typ):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=1000) * 100).astype(dtype)
    assert numeric_array(x, typ).equals(pa.array(x, type=typ))
    mask = rng.random(1000) < 0.1
    assert numeric_array(x, typ, mask=mask).equals(pa.array(x, type=typ, mask=mask))
    assert numeric_array(x[::3], typ).equals(pa.array(x[::3], type=typ))  # a strided view is copied, not misread


def test_ids_are_converted_to_the_arrow_type():
    ids = np.arange(10, dtype=np.int32)
    assert numeric_array(ids, pa.int64()).equals(pa.array(ids.astype(np.int64)))


def test_string_arrays_equal_pa_array():
    values = ["", "a", None, "ünïcode", "x" * 300, None]
    assert string_array(values).equals(pa.array(values, type=pa.string()))
    assert string_array([]).equals(pa.array([], type=pa.string()))


def test_int_values_reads_chunks_and_offsets():
    arr = pa.chunked_array([pa.array([1, 2, 3], pa.int32()).slice(1), pa.array([7], pa.int32())])
    assert int_values(arr).tolist() == [2, 3, 7]
    assert int_values(pa.chunked_array([], pa.int64())).tolist() == []


def test_bucket_files_read_back_every_column():
    rows = Rows(
        ids=np.array(["a", "b", "c"], dtype=object),
        vectors=np.arange(6, dtype=np.float32).reshape(3, 2),
        labels=np.array([1, None, 3], dtype=object),
        metadata=['{"k": 1}', None, '{"k": 3}'],
    )
    back = decode_rows(*encode_rows(rows, label_type="int"))
    assert back.ids.tolist() == ["a", "b", "c"] and back.labels.tolist() == [1, None, 3]
    assert back.metadata == rows.metadata and np.array_equal(back.vectors, rows.vectors)


def test_valid_mask_matches_is_valid_on_slices():
    rng = np.random.default_rng(1)
    mask = rng.random(301) < 0.3
    arr = numeric_array(np.arange(301), pa.int64(), mask=mask)
    for a, b in [(0, 301), (3, 250), (17, 18), (8, 8)]:
        part = arr.slice(a, b - a)
        assert valid_mask(part).tolist() == part.is_valid().to_pylist()


def test_integer_statistics_skip_missing_values():
    from vectree.index.bucketstats import bucket_stats

    rows = Rows(
        ids=np.array([5, 9, 7]), vectors=np.zeros((3, 2), np.float32), labels=np.array([4, None, 2], dtype=object)
    )
    label = bucket_stats(rows)["fields"]["label"]
    assert (label["count"], label["min"], label["max"], label["values"]) == (2, 2, 4, [2, 4])

"""A bucket with codes keeps its ids, squared norms and codes in a verifiable prefix (its code span) and
its vectors in chunks with their own digests: a flipped byte anywhere is caught, and buckets written
before (codes after the vectors) still decode, with no code span."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from vectree.errors import CorruptionError
from vectree.format.bucket import Rows, decode_rows, encode_rows
from vectree.format.codespans import (
    check_chunk,
    chunk_count,
    chunk_range,
    code_file_problem,
    code_span,
    rows_from_code_span,
)
from vectree.format.spans import column_span


@pytest.fixture(scope="module")
def sample(arxiv_sample):
    return arxiv_sample["vectors"][:300]


@pytest.mark.parametrize("codes", ["int8", "rabitq"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_code_span_holds_what_the_whole_file_decodes_to(sample, codes, dtype):
    rows = Rows(ids=np.arange(100, 400), vectors=sample)
    data, fp = encode_rows(rows, dtype=dtype, codes=codes)
    span = code_span(data)
    assert span is not None and column_span(data) is None  # a bucket with codes has a code span, not a column span
    whole = decode_rows(data, fp, as_stored=True)
    part = rows_from_code_span(data[: span.end], span, len(rows), sample.shape[1])
    assert np.array_equal(part.ids, whole.ids) and np.array_equal(part.codes, whole.codes)
    assert np.array_equal(part.code_lo, whole.code_lo)
    assert (part.code_scale is None) == (codes == "rabitq")
    wide = whole.vectors.astype(np.float32)
    assert np.array_equal(part.sqnorms, np.einsum("ij,ij->i", wide, wide).astype(np.float32))
    assert span.end < len(data) // 2  # the vectors are not in it
    got = []
    for c in range(chunk_count(span, len(rows))):
        a, b = chunk_range(span, len(rows), sample.shape[1], c)
        check_chunk(data[a:b], part.chunk_digests[c], "bucket x", c)
        got.append(np.frombuffer(data[a:b], whole.vectors.dtype).reshape(-1, sample.shape[1]))
    assert np.array_equal(np.concatenate(got), whole.vectors)  # the chunks tile the vectors exactly


def test_a_flipped_byte_in_a_chunk_or_the_code_span_is_a_corruption_error(sample):
    n, dim = len(sample), sample.shape[1]
    data, _ = encode_rows(Rows(ids=np.arange(n), vectors=sample), codes="int8")
    span = code_span(data)
    part = rows_from_code_span(data[: span.end], span, n, dim)
    a, b = chunk_range(span, n, dim, 3)
    bad = bytearray(data)
    bad[a + (b - a) // 2] ^= 0x10
    with pytest.raises(CorruptionError, match="bucket b1 is corrupted: vector chunk 3"):
        check_chunk(bytes(bad[a:b]), part.chunk_digests[3], "bucket b1", 3)
    assert code_file_problem(bytes(bad), span, n, dim) == "vector chunk 3 does not match its digest"
    for at in (span.id_offset + 5, span.code_offset + 77, 100):  # an id, a code, the schema (chunk digests)
        bad = bytearray(data)
        bad[at] ^= 0x01
        with pytest.raises(CorruptionError, match="bucket b2 is corrupted"):
            rows_from_code_span(bytes(bad[: span.end]), span, n, dim, what="bucket b2")
        assert "code span" in code_file_problem(bytes(bad), span, n, dim)


def test_buckets_written_before_code_spans_still_decode(sample):
    """The layout every bucket with codes had before: id, vector, code (no squared norms, no chunks)."""
    n, dim = 50, sample.shape[1]
    new, _ = encode_rows(Rows(ids=np.arange(n), vectors=sample[:n]), codes="int8")
    table = pa.ipc.open_file(pa.py_buffer(new)).read_all()
    meta = {k: v for k, v in table.schema.metadata.items() if not k.startswith(b"vectree.chunk")}
    old = pa.table({"id": table["id"], "vector": table["vector"], "code": table["code"]}).replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, old.schema) as w:
        w.write_table(old)
    data = sink.getvalue().to_pybytes()
    assert code_span(data) is None and column_span(data) is None  # read whole, as before
    rows = decode_rows(data, None)
    assert np.array_equal(rows.vectors, sample[:n]) and rows.codes.shape == (n, dim)

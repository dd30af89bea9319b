"""The static 64-d encoder: unit rows, deterministic, saved by reference."""

from __future__ import annotations

import numpy as np

from vectree.embed import StaticEmbedder, from_bytes


def test_unit_rows_deterministic_and_reloadable(arxiv_texts):
    emb = StaticEmbedder()
    x = emb.encode(arxiv_texts[:100] + [""])
    assert x.shape == (101, 64) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    again = from_bytes(emb.to_bytes())
    assert again.config_hash() == emb.config_hash()
    np.testing.assert_array_equal(again.encode(arxiv_texts[:100]), x[:100])


def test_concatenation_weights_parts_and_round_trips(arxiv_texts):
    from vectree.embed import ConcatEmbedder, Word2VecEmbedder

    static = StaticEmbedder()
    w2v = Word2VecEmbedder(vector_size=16, epochs=1, min_count=2, workers=1).fit(arxiv_texts[:100])
    both = ConcatEmbedder([static, w2v], weights=[3, 1])
    x = both.encode(arxiv_texts[:10])
    assert x.shape == (10, 80) and both.name == "tokenlearn-static-64d+" + w2v.name
    np.testing.assert_allclose(np.linalg.norm(x[:, :64], axis=1) ** 2, 0.75, atol=1e-5)  # weight share of the cosine
    again = from_bytes(both.to_bytes())
    assert again.config_hash() == both.config_hash()
    np.testing.assert_array_equal(again.encode(arxiv_texts[:10]), x)
    assert ConcatEmbedder([static, w2v]).config_hash() != both.config_hash()


def test_archives_written_before_the_config_hash_rename_still_load(arxiv_texts):
    """Archives written before the rename record the hash as ``"fingerprint"``: they load; a wrong hash is refused."""
    import io
    import json
    import zipfile

    import pytest

    from vectree.embed import EmbedderMismatchError

    emb = StaticEmbedder()

    def old_archive(recorded: str) -> bytes:
        with zipfile.ZipFile(io.BytesIO(emb.to_bytes())) as z:
            header = json.loads(z.read("embedder.json"))
        header["fingerprint"] = recorded
        del header["config_hash"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("embedder.json", json.dumps(header))
        return buf.getvalue()

    again = from_bytes(old_archive(emb.config_hash()))
    np.testing.assert_array_equal(again.encode(arxiv_texts[:5]), emb.encode(arxiv_texts[:5]))
    with pytest.raises(EmbedderMismatchError, match="config hash"):
        from_bytes(old_archive("0" * 32))

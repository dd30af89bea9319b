"""``_scan.codes_candidates``: the rows a scan through int8 codes cannot rule out, from blocks that hold only
codes (a two-phase read's first phase). They include topk's answer; blocks without vectors are refused by
every entry point that would read them."""

from __future__ import annotations

import numpy as np
import pytest

from vectree._native import _scan
from vectree.format.codes import int8_codes


def test_candidates_from_codes_alone_hold_the_exact_top_k(arxiv_sample):
    x = arxiv_sample["vectors"][:1200]
    q = arxiv_sample["vectors"][1500:1501]
    blocks, coded, plan = [], [], np.arange(4, dtype=np.int64)[None, :]
    for part in np.split(x, 4):
        codes, lo, scale = int8_codes(part)
        sq = np.einsum("ij,ij->i", part, part).astype(np.float32)
        blocks.append(_scan.ScanBlock(part, sq))
        coded.append(_scan.ScanBlock(None, sq, codes, code_lo=lo, code_scale=scale, dim=x.shape[1]))
    slots = np.arange(4, dtype=np.int64)
    for metric in (0, 1):
        d, ref, filled = np.empty((1, 10), np.float32), np.empty((1, 10), np.int64), np.zeros(1, np.int64)
        _scan.topk(q, metric, blocks, [None] * 4, slots, plan, d, ref, filled)
        scanned, refs = _scan.codes_candidates(
            q, metric, coded, [None] * 4, slots, plan, *(np.empty((1, 10), np.float32), np.empty((1, 10), np.int64)),
            np.zeros(1, np.int64),
        )  # fmt: skip
        got = np.frombuffer(refs, np.int64)
        assert scanned == len(x) and 10 <= len(got) < len(x) / 10
        assert set(ref[0].tolist()) <= set(got.tolist())  # (block << 32 | row: block indices are the slots here)
        capped = np.frombuffer(
            _scan.codes_candidates(
                q, metric, coded, [None] * 4, slots, plan, np.empty((1, 10), np.float32), np.empty((1, 10), np.int64),
                np.zeros(1, np.int64), 12,
            )[1],
            np.int64,
        )  # fmt: skip
        assert capped.tolist() == got[:12].tolist()  # nearest bound first


def test_blocks_without_vectors_are_refused_where_rows_are_read(arxiv_sample):
    x = arxiv_sample["vectors"][:100]
    codes, lo, scale = int8_codes(x)
    only = _scan.ScanBlock(None, None, codes, code_lo=lo, code_scale=scale, dim=x.shape[1])
    assert only.n == 100 and only.dim == x.shape[1] and only.has_codes
    args = (x[:1], 1, [only], [None], np.zeros(1, np.int64), np.zeros((1, 1), np.int64))
    out = (np.empty((1, 5), np.float32), np.empty((1, 5), np.int64), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="holds no vectors"):
        _scan.topk(*args, *out)
    with pytest.raises(ValueError, match="holds no vectors"):
        _scan.topk_codes(*args, *out)
    with pytest.raises(ValueError, match="needs codes and dim"):
        _scan.ScanBlock(None, None, codes, code_lo=lo, code_scale=scale)
    with pytest.raises(ValueError, match="one query a call"):
        _scan.codes_candidates(np.vstack([x[:1], x[:1]]), 1, [only], [None], np.zeros(1, np.int64),
                               np.zeros((2, 1), np.int64), np.empty((2, 5), np.float32), np.empty((2, 5), np.int64),
                               np.zeros(2, np.int64))  # fmt: skip

"""Recall@k, NDCG@k, coverage and the seen-item mask, on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from vectree.apps.recommend.metrics import coverage, ndcg_at_k, recall_at_k, top_k_unseen
from vectree.errors import InvalidInputError


def test_recall_counts_hits_over_relevant():
    assert recall_at_k(np.array([1, 2, 3, 4]), {2, 9}, k=4) == 0.5
    assert recall_at_k(np.array([1, 2, 3, 4]), {4}, k=3) == 0.0


def test_ndcg_rewards_early_hits():
    assert ndcg_at_k(np.array([7, 1, 2]), {7}, k=3) == pytest.approx(1.0)
    assert ndcg_at_k(np.array([1, 7, 2]), {7}, k=3) == pytest.approx(1 / np.log2(3))
    # two relevant, one found at rank 1: DCG 1, ideal 1 + 1/log2(3)
    assert ndcg_at_k(np.array([7, 1, 2]), {7, 8}, k=3) == pytest.approx(1 / (1 + 1 / np.log2(3)))


def test_empty_relevant_set_is_an_error():
    with pytest.raises(InvalidInputError):
        recall_at_k(np.array([1]), set())


def test_coverage_ignores_padding():
    assert coverage(np.array([[0, 1, -1], [1, 2, -1]]), n_items=10) == 0.3


def test_top_k_unseen_masks_seen_and_pads():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    top = top_k_unseen(scores, [np.array([0]), np.array([3, 2, 1])], k=3)
    assert top[0].tolist() == [1, 2, 3]
    assert top[1].tolist() == [0, -1, -1]

"""Peeking: a fixed-horizon test checked 20 times inflates false positives; the always-valid mSPRT does not."""

import numpy as np
import pytest

from vectree.errors import InvalidInputError
from vectree.experiments import sequential_test
from vectree.experiments.simulate import simulate_peeking


def test_peeking_inflates_naive_but_not_msprt():
    r = simulate_peeking(2000, 10000, n_looks=20, p_control=0.1, alpha=0.05, seed=0)
    assert r.naive_single_look == pytest.approx(0.05, abs=0.01)  # one look: honest
    assert r.naive_any_look > 0.15  # twenty looks: several times alpha
    assert r.msprt_any_look <= 0.05 + 0.01


def test_msprt_still_detects_a_real_effect():
    r = simulate_peeking(1000, 10000, n_looks=20, p_control=0.1, p_variant=0.12, seed=1)
    assert r.msprt_any_look > 0.8


def test_sequential_test_on_arrival_order():
    rng = np.random.default_rng(5)
    yc = (rng.random(20000) < 0.10).astype(float)
    yt = (rng.random(20000) < 0.12).astype(float)
    res = sequential_test(yc, yt, alpha=0.05, tau=0.02)
    assert res.reject and res.stopped_at is not None
    p = [lk.p_value for lk in res.looks]
    assert all(a >= b for a, b in zip(p, p[1:]))  # always-valid p-values never go back up
    widths = [lk.ci_high - lk.ci_low for lk in res.looks]
    assert all(a >= b - 1e-12 for a, b in zip(widths, widths[1:]))  # the confidence sequence only narrows
    assert res.final.ci_low <= 0.02 <= res.final.ci_high
    aa = sequential_test(yc, (rng.random(20000) < 0.10).astype(float), alpha=0.05, tau=0.02)
    assert not aa.reject
    with pytest.raises(InvalidInputError):
        sequential_test(yc, yt, tau=-1)

"""A float16 collection's build holds its sample as float16 (half the memory of the fit's largest array);
every step of the fit converts it a block at a time, and gives what it gives on the same values in float32."""

import numpy as np
import pytest

from vectree.format.bucket import Rows
from vectree.index.build import _sample
from vectree.index.centers import nearest_center, refine_centers
from vectree.index.projection import fit_pca


@pytest.fixture()
def x16(arxiv_sample) -> np.ndarray:
    return arxiv_sample["vectors"][:3000].astype(np.float16)


def test_the_fit_on_a_float16_sample_equals_the_fit_on_its_float32_values(x16):
    x32 = x16.astype(np.float32)
    for dot in (False, True):
        p16, p32 = fit_pca(x16, 16, augment_for_dot=dot), fit_pca(x32, 16, augment_for_dot=dot)
        np.testing.assert_array_equal(p16.components, p32.components)
        np.testing.assert_array_equal(p16.project(x16), p32.project(x32))
    assign = np.arange(len(x16)) % 40
    c16, a16 = refine_centers(x16, assign, 40, 2)
    c32, a32 = refine_centers(x32, assign, 40, 2)
    np.testing.assert_array_equal(c16, c32)  # sums in float32, not float16: a float16 sum drifts by far more
    np.testing.assert_array_equal(a16, a32)
    np.testing.assert_array_equal(nearest_center(x16, c32), nearest_center(x32, c32))


def test_the_sample_is_held_at_the_stored_precision(x16):
    chunks = [Rows(ids=np.arange(s, s + 500), vectors=x16[s : s + 500].astype(np.float32)) for s in range(0, 3000, 500)]
    s16 = _sample(iter(chunks), 3000, 1200, 0, x16.shape[1], "float16")
    s32 = _sample(iter(chunks), 3000, 1200, 0, x16.shape[1], "float32")
    assert s16.dtype == np.float16 and s32.dtype == np.float32 and s16.nbytes * 2 == s32.nbytes
    np.testing.assert_array_equal(s16.astype(np.float32), s32)
    whole = _sample(iter(chunks), 3000, 5000, 0, x16.shape[1], "float16")  # every row: slices, not gathers
    np.testing.assert_array_equal(whole, x16)

"""Adds ``count`` single-row batches with ids ``offset + i`` (driven by test_concurrent_writers)."""

import sys

import numpy as np

import vectree

path, offset, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
col = vectree.open_collection(path)
for i in range(count):
    vec = np.random.default_rng(offset + i).normal(size=(1, 8)).astype(np.float32)
    col.add(vec, ids=[offset + i])

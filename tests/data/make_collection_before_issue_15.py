"""Write a small collection with the code of main before the vocabulary change (run with that tree on PYTHONPATH)."""

import json
import sys

import numpy as np

import vectree

out = sys.argv[1]
rng = np.random.default_rng(15)
centers = rng.normal(size=(12, 16)).astype(np.float32) * 4
x = (centers[rng.integers(0, 12, 630)] + rng.normal(size=(630, 16))).astype(np.float32)
col = vectree.create_collection(out, dim=16, metric="l2", bucket_size=50)
col.add(x[:600], ids=[f"r{i}" for i in range(600)], labels=[int(i % 3) for i in range(600)])
col.build()  # kmeans tree (its node centers stored as "centroid"), id map shards with "leaves"
col.add(x[600:], ids=[f"r{i}" for i in range(600, 630)], labels=[0] * 30)  # a tail segment
col.delete(["r3", "r17", "r250", "r601"])  # tombstones
col.put_attachment("note", b"written before issue 15")
q = (centers[rng.integers(0, 12, 20)] + rng.normal(size=(20, 16))).astype(np.float32)
approx, exact = col.search(q, k=5, probes=3), col.search(q, k=5, exact=True)
np.savez(
    out + ".expected.npz",
    queries=q,
    probe3_ids=np.asarray(approx.ids).astype(str),
    exact_ids=np.asarray(exact.ids).astype(str),
    exact_distances=exact.distances,
)
print(json.dumps(col.stats()["buckets"]), len(col))

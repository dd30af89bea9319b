"""Write a small int8-coded collection with the code of main before code spans (1c67cf8; run with that
tree on PYTHONPATH): its buckets keep their codes after the vectors and its index records no code span."""

import sys

import numpy as np

import vectree

out = sys.argv[1]
x = np.load(sys.argv[2])["vectors"][:460, :48].astype(np.float32)  # the repo's arXiv demo, 48 dimensions
col = vectree.create_collection(out, dim=48, metric="l2", bucket_size=40, codes="int8")
col.add(x[:400], ids=np.arange(400))
col.build()
col.delete([3, 17, 250])  # tombstones
q = x[400:460]
probe = col.search(q, k=5, probes=3, method="quantized")
exact = col.search(q, k=5, exact=True, method="compiled")
np.savez(out + ".expected.npz", queries=q, probe3_ids=probe.ids, probe3_distances=probe.distances,
         exact_ids=exact.ids, exact_distances=exact.distances)  # fmt: skip
print(col.stats()["buckets"], len(col))

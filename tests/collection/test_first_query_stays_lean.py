"""Opening a collection and answering queries imports nothing heavy (pandas, pyarrow.compute)."""

import json
import subprocess
import sys

import vectree

SCRIPT = """
import json, sys
import numpy as np
import vectree
col = vectree.open_collection(sys.argv[1], cache_bytes=1 << 20)
q = np.load(sys.argv[2])
for v in q:
    col.search(v, k=5, probes=4)
col.search(q, k=5, probes=4)
print(json.dumps(sorted(m for m in ("pandas", "pyarrow.compute", "numba", "torch") if m in sys.modules)))
"""


def test_searching_a_collection_loads_no_heavy_module(tmp_path, fashion_mnist):
    import numpy as np

    col = vectree.create_collection(tmp_path / "c", dim=784, metric="l2")
    col.add(fashion_mnist["train"][:3000], labels=np.arange(3000) % 10)
    col.build()
    np.save(tmp_path / "q.npy", fashion_mnist["queries"][:10])
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "c"), str(tmp_path / "q.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []

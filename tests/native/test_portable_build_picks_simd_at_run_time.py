"""A kernel built without -march=native (VECTREE_NO_NATIVE=1, as for a wheel) picks its AVX2/F16C loops
at run time, and its plain loops give the same answers (the int8 code scan's too)."""

import json
import os
import subprocess
import sys

import numpy as np

import vectree
from tests.native.build import REPO, build_variant

SNIPPET = """
import json, sys, numpy as np, vectree
from vectree._native import _scan
col = vectree.open_collection(sys.argv[1])
q = np.load(sys.argv[2])
out = {"file": _scan.__file__, "simd": _scan.simd(), "ids": [], "d": []}
for method in ("compiled", "matrix", "quantized"):
    r = col.search(q, k=10, probes=5, method=method)
    out["ids"].append(r.ids.tolist()); out["d"].append(r.distances.tolist())
print(json.dumps(out))
"""


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return {w for line in f if line.startswith("flags") for w in line.split(":", 1)[1].split()}
    except OSError:
        return set()


def test_a_portable_build_answers_as_the_native_one(tmp_path, arxiv_sample):
    for dtype in ("float16", "float32"):
        col = vectree.create_collection(
            tmp_path / dtype, dim=384, metric="l2", bucket_size=100, vector_dtype=dtype, codes="int8"
        )
        col.add(arxiv_sample["vectors"][:2000])
        col.build()
    q = arxiv_sample["vectors"][3000:3020]
    np.save(tmp_path / "q.npy", q)
    portable = build_variant(tmp_path / "portable", VECTREE_NO_NATIVE="1")
    for dtype in ("float16", "float32"):
        col = vectree.open_collection(tmp_path / dtype)
        want = [col.search(q, k=10, probes=5, method=m) for m in ("compiled", "matrix", "quantized")]
        for simd in ("auto", "generic"):
            env = {**os.environ, "PYTHONPATH": str(portable), "VECTREE_SIMD": simd}
            done = subprocess.run(
                [sys.executable, "-c", SNIPPET, str(tmp_path / dtype), str(tmp_path / "q.npy")],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                cwd=tmp_path,
            )
            assert done.returncode == 0, done.stderr
            got = json.loads(done.stdout)
            assert got["file"].startswith(str(portable)), "the subprocess imported the portable build"
            if simd == "generic":
                assert got["simd"] == "generic"
            elif {"avx2", "fma", "f16c"} <= _cpu_flags():
                assert got["simd"] == "avx2+fma+f16c", (
                    "a portable build still takes the wide loops where the CPU has them"
                )
            for w, ids, d in zip(want, got["ids"], got["d"]):
                assert (np.array(ids) == w.ids).mean() > 0.99, (dtype, simd)
                np.testing.assert_allclose(np.array(d), w.distances, rtol=1e-4, atol=1e-3)
    assert str(REPO) not in str(portable)

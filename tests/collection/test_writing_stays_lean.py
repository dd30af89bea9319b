"""Adding rows and building the index import no pandas (pyarrow's ``pa.array`` would: +42 MB of RSS in a
process that only writes) and, for integer ids and labels, no pyarrow.compute (its library code is 11 MB)."""

import json
import subprocess
import sys

import numpy as np

SCRIPT = """
import json, sys
import numpy as np
import vectree
x = np.load(sys.argv[2])
kind = sys.argv[3]
col = vectree.create_collection(sys.argv[1], dim=x.shape[1], metric="cosine", bucket_size=100, codes="int8")
if kind == "plain":
    col.add(x[:2000], labels=np.arange(2000) % 5)
else:  # string ids and labels (some missing), metadata
    labels = [None if i % 7 == 0 else f"c{i % 3}" for i in range(2000)]
    meta = [{"y": 2000 + i % 20} for i in range(2000)]
    col.add(x[:2000], ids=[f"p{i}" for i in range(2000)], labels=labels, metadata=meta)
col.build()
col.add(x[2000:2500], **({} if kind == "plain" else {"ids": [f"q{i}" for i in range(500)]}))
col.compact()
col.search(x[:5], k=5, probes=4)
col.search(x[0], k=5, probes=4)
print(json.dumps(sorted(m for m in ("pandas", "pyarrow.compute") if m in sys.modules)))
"""


def _modules_after_writing(tmp_path, arxiv_sample, kind: str) -> list[str]:
    np.save(tmp_path / "x.npy", arxiv_sample["vectors"][:2500])
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "c"), str(tmp_path / "x.npy"), kind],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_add_build_compact_import_neither_pandas_nor_arrow_compute(tmp_path, arxiv_sample):
    assert _modules_after_writing(tmp_path, arxiv_sample, "plain") == []


def test_string_ids_labels_and_metadata_import_no_pandas(tmp_path, arxiv_sample):
    # metadata statistics (min/max of each field) still use pyarrow.compute; pandas stays out
    assert "pandas" not in _modules_after_writing(tmp_path, arxiv_sample, "strings")

"""A writer killed at random moments always leaves the last committed version whole and verify clean."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import vectree

REPO = Path(__file__).resolve().parents[2]
KILLS = 25


def test_sigkill_at_random_moments_never_breaks_the_collection(tmp_path, arxiv_sample):
    path = tmp_path / "c"
    col = vectree.create_collection(path, dim=384, metric="cosine", bucket_size=60)
    col.add(arxiv_sample["vectors"][:200], ids=np.arange(200), labels=(np.arange(200) % 7).tolist())
    col.build()
    rng = np.random.default_rng(42)
    versions_seen = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for kill in range(KILLS):
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("crash_writer.py")),
                str(path),
                str(kill),
                str(REPO / "demo" / "arxiv-minilm-4k.npz"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        ready = proc.stdout.readline()  # past the imports and the open, however slow the machine is
        time.sleep(float(rng.uniform(0.05, 1.2)))
        if not ready or proc.poll() is not None:
            raise AssertionError(f"writer died on its own: {proc.stderr.read().decode()[-2000:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        proc.stdout.close()

        now = vectree.open_collection(path)
        report = now.verify()
        assert report.ok, report.problems
        ids = [i for b in now.iter_batches() for i in b["ids"].tolist()]
        assert len(ids) == len(set(ids)) == len(now)
        res = now.search(arxiv_sample["vectors"][:5], k=3, probes=2)
        assert (res.ids >= 0).all()
        versions_seen.append(now.version)
    assert versions_seen[-1] > versions_seen[0]  # the writers did commit work between kills
    assert vectree.open_collection(path).verify(all_versions=True).ok

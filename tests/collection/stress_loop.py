"""The concurrency stress test in a loop (issue 13: 200 runs before calling the scan safe).

    python -m tests.collection.stress_loop --runs 200 --seconds 3 --log /tmp/stress.jsonl [--codes int8]
    python -m tests.collection.stress_loop --runs 200 --one-call --log /tmp/one-call.jsonl

``--one-call`` loops the one-call single-query path's stress instead
(``test_one_call_single_query.run_one_call_stress``: threads, evictions and slab moves, no writes: the
path serves only collections without a tail or deletes).

Each run copies one prebuilt collection and puts it under the load of
``test_search_under_concurrent_writes.run_stress``; a line of JSON per run goes to the log. Runs
happen in a child process: a crash (a signal) is logged as such and the loop goes on from there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.collection.test_search_under_concurrent_writes import build_stress_collection, run_stress

REPO = Path(__file__).resolve().parents[2]


def _child(log: Path, runs: int, seconds: float, codes: str | None, one_call: bool = False) -> None:
    done = sum(1 for _ in log.open()) if log.exists() else 0
    x = np.load(REPO / "demo" / "arxiv-minilm-4k.npz")["vectors"].astype(np.float32)
    if one_call:
        from tests.collection.test_one_call_single_query import run_one_call_stress

        for i in range(done + 1, runs + 1):
            t, folder = time.time(), Path(tempfile.mkdtemp())
            try:
                out = {"run": i, "ok": True, **run_one_call_stress(folder / "c", x)}
            except AssertionError as exc:
                out = {"run": i, "ok": False, "error": str(exc)[:500]}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            out["s"] = round(time.time() - t, 1)
            with log.open("a") as f:
                f.write(json.dumps(out) + "\n")
        return
    base = Path(tempfile.mkdtemp()) / "base"
    build_stress_collection(base, x, codes)
    for i in range(done + 1, runs + 1):
        run = base.parent / f"run{i}"
        shutil.copytree(base, run)
        t = time.time()
        try:
            out = {"run": i, "ok": True, **run_stress(run, x, seconds)}
        except AssertionError as exc:
            out = {"run": i, "ok": False, "error": str(exc)[:500]}
        out["s"] = round(time.time() - t, 1)
        with log.open("a") as f:
            f.write(json.dumps(out) + "\n")
        shutil.rmtree(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--log", type=Path, default=Path("stress.jsonl"))
    parser.add_argument("--codes", default=None, help="e.g. int8: the collection has codes (the quantized scan)")
    parser.add_argument("--one-call", action="store_true", help="loop the one-call single-query stress instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child:
        return _child(a.log, a.runs, a.seconds, a.codes, a.one_call)
    while (sum(1 for _ in a.log.open()) if a.log.exists() else 0) < a.runs:
        rc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.collection.stress_loop",
                "--child",
                "--runs",
                str(a.runs),
                "--seconds",
                str(a.seconds),
                "--log",
                str(a.log),
            ]
            + (["--codes", a.codes] if a.codes else [])
            + (["--one-call"] if a.one_call else []),
            cwd=REPO,
        ).returncode
        if rc != 0:  # the child died mid-run: that run is a crash
            n = (sum(1 for _ in a.log.open()) if a.log.exists() else 0) + 1
            with a.log.open("a") as f:
                f.write(json.dumps({"run": n, "ok": False, "crash": rc}) + "\n")
    rows = [json.loads(line) for line in a.log.open()]
    print(
        json.dumps(
            {
                "runs": len(rows),
                "ok": sum(r["ok"] for r in rows),
                "crashes": sum("crash" in r for r in rows),
                "wrong": sum("differ" in r.get("error", "") for r in rows),
            }
        )
    )


if __name__ == "__main__":
    main()

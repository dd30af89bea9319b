"""Shared benchmark plumbing: the arguments every benchmark takes, machine description, peak RSS of a
child process, result files."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def arguments(description: str | None, quick: str = "a small run, under a minute") -> argparse.ArgumentParser:
    """A parser with the two arguments of every benchmark: ``--quick`` and ``--out`` (the results folder)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the result files")
    return parser


def named(script: str, quick: bool) -> tuple[str, str]:
    """The name of a run's result files and the command recorded in them.

    >>> named("filters", True)
    ('filters-quick', 'python benchmarks/filters.py --quick')
    """
    return (f"{script}-quick" if quick else script), f"python benchmarks/{script}.py" + (" --quick" if quick else "")


def machine(threads: int | str) -> dict[str, Any]:
    import psutil

    cpu = ""
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": threads,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(module: str, args: dict[str, Any], threads: int | None = 1) -> dict[str, Any]:
    """Run ``python -m module`` with JSON args on stdin in a fresh process; return its JSON stdout."""
    env = dict(os.environ)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[var] = str(threads)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-m", module], input=json.dumps(args), capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_results(
    name: str, command: str, threads: int | str, rows: list[dict], extra: dict | None = None, out: Path | None = None
) -> Path:
    """``out/name.json`` (``out`` defaults to ``benchmarks/results``) in the shape of BENCHMARKS.md."""
    folder = RESULTS if out is None else Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": name,
        "command": command,
        "machine": machine(threads),
        "date": datetime.date.today().isoformat(),
        "rows": rows,
        **(extra or {}),
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(body, indent=1))
    return path


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    head = "| system | setting | dataset | " + " | ".join(columns) + " |"
    sep = "|" + "---|" * (3 + len(columns))
    lines = [head, sep]
    for r in rows:
        m = r["metrics"]
        cells = [f"{m[c]:.4g}" if isinstance(m.get(c), float) else str(m.get(c, "")) for c in columns]
        lines.append(f"| {r['system']} | {r['setting']} | {r['dataset']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

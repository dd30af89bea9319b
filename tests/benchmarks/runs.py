"""Run a benchmark script's ``--quick`` as a user would (a subprocess), and check what every result file holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_quick(
    script: str, out: Path, *extra: str, env: dict[str, str] | None = None, timeout: int = 600, name: str | None = None
) -> dict:
    """``python benchmarks/SCRIPT.py --quick --out OUT EXTRA...``; its ``NAME.json`` (default ``SCRIPT-quick``),
    checked for the shape of BENCHMARKS.md (benchmark name, the command, the machine, rows)."""
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", "--quick", "--out", str(out), *extra],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    name = name or f"{script}-quick"
    body = json.loads((out / f"{name}.json").read_text())
    assert body["benchmark"] == name
    commands = body.get("commands", [body.get("command", "")])  # scale-peers keeps every run's command it merged
    assert any(c.startswith(f"python benchmarks/{script}.py") for c in commands), commands
    assert {"cpus", "python", "numpy", "threads", "load_average_at_start"} <= set(body["machine"])
    assert body["date"] and isinstance(body["rows"], list) and body["rows"]
    return body


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

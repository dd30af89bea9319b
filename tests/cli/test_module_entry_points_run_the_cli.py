"""``python -m vectree`` and ``python -m vectree.cli.main`` are the ``vectree`` command, not silent imports."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["vectree", "vectree.cli.main"])
def test_module_prints_the_commands(module: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Usage: vectree" in out.stdout
    for command in ("build", "search", "serve"):
        assert command in out.stdout

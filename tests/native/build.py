"""Build the C kernel another way (portable, sanitized) into a copy of the package, for a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_variant(dest: Path, with_tests: bool = False, **env: str) -> Path:
    """Copy ``vectree/`` and ``setup.py`` to ``dest``, build the kernel there with ``env`` set; return ``dest``.

    Run Python with ``cwd=dest`` (and ``dest`` on ``PYTHONPATH``) to import that build. ``with_tests``
    also copies the tests (and links the demo data they use), to run them from ``dest``.
    """
    if with_tests:
        shutil.copytree(REPO / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        (dest / "demo").symlink_to(REPO / "demo")
    shutil.copytree(REPO / "vectree", dest / "vectree", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copy(REPO / "setup.py", dest / "setup.py")
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    shutil.copy(REPO / "README.md", dest / "README.md")
    done = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=dest,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the kernel did not build with {env}:\n{done.stdout}\n{done.stderr}"
    assert list((dest / "vectree" / "_native").glob("_scan*.so")), "no extension was built"
    return dest


def asan_runtime() -> str:
    """The path of gcc's AddressSanitizer runtime (LD_PRELOADed into Python for a sanitized kernel)."""
    path = subprocess.run(
        ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert os.path.isabs(path) and os.path.exists(path), f"gcc has no AddressSanitizer runtime (got {path!r})"
    return os.path.realpath(path)

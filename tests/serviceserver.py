"""The real vectree service for tests: ``vectree serve`` (uvicorn) on a free loopback port, in a subprocess.

Fixtures (a pytest plugin, registered in tests/conftest.py):

- ``service_server``: one server for the whole session on a local root, with keys for tenants
  ``alice`` and ``bob``, a read-only key of alice's and an admin key (``server.keys[...]``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceServer:
    """``vectree serve ROOT`` in a subprocess; :meth:`stop` / :meth:`start` keep the root and the port."""

    def __init__(
        self,
        root: str | Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        log: Path | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.root, self.workers, self.env, self.args = str(root), workers, env or {}, list(args or [])
        self.storage_options = dict(storage_options or {})
        if self.storage_options:
            self.args += ["--storage-options", json.dumps(self.storage_options)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = log or Path(f"/tmp/vectree-service-{self.port}.log")
        self.keys: dict[str, str] = {}

    def create_key(self, name: str, tenant: str, **flags: Any) -> str:
        from vectree.service.tenants import create_key
        from vectree.storage.url import open_store

        key, _ = create_key(open_store(self.root, **self.storage_options), tenant, **flags)
        self.keys[name] = key
        return key

    def start(self, timeout_s: float = 60.0) -> None:
        env = (
            os.environ
            | {"PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
            | self.env
        )
        cmd = [
            sys.executable,
            "-m",
            "vectree",
            "serve",
            self.root,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *self.args,
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vectree serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop(kill=True)
        raise RuntimeError(f"vectree serve did not answer within {timeout_s} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers of a multi-worker server, else the server itself."""
        import psutil

        if self.proc is None:
            return []
        children = psutil.Process(self.proc.pid).children(recursive=True)
        workers = [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]  # not the resource tracker
        return workers if self.workers > 1 else [self.proc.pid]

    def stop(self, kill: bool = False, timeout_s: float = 10.0) -> None:
        """SIGTERM (or SIGKILL) the server's whole process group and wait for it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout_s)
        self.proc = None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""


def standard_keys(server: ServiceServer) -> None:
    server.create_key("alice", "alice")
    server.create_key("bob", "bob")
    server.create_key("alice_ro", "alice", read_only=True)
    server.create_key("admin", "ops", admin=True)


@pytest.fixture(scope="session")
def service_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceServer]:
    """One real server for the session on a local root; keys: alice, bob, alice_ro (read-only), admin."""
    root = tmp_path_factory.mktemp("service-root")
    server = ServiceServer(root, args=["--rate", "100000", "--burst", "100000"], log=root.parent / "service.log")
    standard_keys(server)
    server.start()
    yield server
    server.stop()

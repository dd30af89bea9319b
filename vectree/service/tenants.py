"""Tenants and API keys, kept under ROOT so every server process sees the same ones.

A key is ``vt_<key_id>_<secret>``; only a salted scrypt hash of the secret is stored, in
``_service/keys/<key_id>.json`` (created with put-if-absent). Revoking writes
``_service/revoked/<key_id>`` (put-if-absent too): records are never rewritten, so concurrent
processes never race on one object.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from vectree.errors import InvalidInputError, NotFoundError
from vectree.storage.base import ObjectStore

KEYS = "_service/keys/"
REVOKED = "_service/revoked/"
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY = re.compile(r"^vt_([0-9a-f]{16})_([A-Za-z0-9_-]{20,64})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's tenant and what the key may do."""

    tenant: str
    key_id: str
    admin: bool = False
    read_only: bool = False


def check_tenant(name: str) -> str:
    """A tenant name: letters, digits, ``_ . -``, at most 64 characters.

    >>> check_tenant("acme")
    'acme'
    """
    if not isinstance(name, str) or not _TENANT.match(name):
        raise InvalidInputError(
            f"tenant names are 1-64 letters, digits, '_', '.' or '-' starting with a letter or digit, got {name!r}"
        )
    return name


def _hash(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32).hex()


def create_key(
    store: ObjectStore, tenant: str, *, admin: bool = False, read_only: bool = False
) -> tuple[str, dict[str, Any]]:
    """Make a new key for ``tenant``; returns (the key, shown once; its stored record, without the secret).

    >>> from vectree.storage import MemoryStore
    >>> key, rec = create_key(MemoryStore("doc-keys"), "acme")
    >>> key.startswith("vt_"), rec["tenant"], "hash" in rec
    (True, 'acme', True)
    """
    check_tenant(tenant)
    while True:
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = {
            "key_id": key_id,
            "tenant": tenant,
            "admin": bool(admin),
            "read_only": bool(read_only),
            "created": time.time(),
            "salt": salt.hex(),
            "hash": _hash(secret, salt),
        }
        if store.put_if_absent(f"{KEYS}{key_id}.json", json.dumps(record).encode()):
            return f"vt_{key_id}_{secret}", record


def list_keys(store: ObjectStore) -> list[dict[str, Any]]:
    """Every key's record (tenant, flags, created, revoked), without salt or hash."""
    revoked = {k[len(REVOKED) :] for k in store.list(REVOKED)}
    out = []
    for key in store.list(KEYS):
        rec = json.loads(store.get(key))
        out.append(
            {k: rec[k] for k in ("key_id", "tenant", "admin", "read_only", "created")}
            | {"revoked": rec["key_id"] in revoked}
        )
    return out


def revoke_key(store: ObjectStore, key_id: str) -> None:
    """Stop a key from working (within ``key_cache_s`` on every server process)."""
    if not store.exists(f"{KEYS}{key_id}.json"):
        raise NotFoundError(f"no key with id {key_id!r}; `vectree keys list` shows them")
    store.put_if_absent(f"{REVOKED}{key_id}", b"")


class KeyChecker:
    """Checks presented keys against the store, trusting each answer for ``cache_s`` seconds."""

    def __init__(self, store: ObjectStore, cache_s: float = 2.0) -> None:
        self.store, self.cache_s = store, cache_s
        self._seen: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None."""
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        principal = self._lookup(key, hit[1] if hit else None)
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (now, principal)
        return principal

    def _lookup(self, key: str, known: Principal | None) -> Principal | None:
        m = _KEY.match(key or "")
        if not m:
            return None
        key_id, secret = m.groups()
        if self.store.exists(f"{REVOKED}{key_id}"):
            return None
        if known is not None:  # the hash matched before; only revocation can change the answer
            return known
        try:
            rec = json.loads(self.store.get(f"{KEYS}{key_id}.json"))
        except NotFoundError:
            return None
        if not hmac.compare_digest(_hash(secret, bytes.fromhex(rec["salt"])), rec["hash"]):
            return None
        return Principal(rec["tenant"], key_id, bool(rec["admin"]), bool(rec["read_only"]))

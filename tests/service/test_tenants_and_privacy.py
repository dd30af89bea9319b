"""Tenants, keys and private collections, against the real server: what each key may see and change."""

from __future__ import annotations

import time
import uuid

import httpx
import numpy as np
import pytest

import vectree
from vectree.errors import NotFoundError
from vectree.service.calls import ServiceError


def _h(server, who):  # noqa: ANN001, ANN202
    return {"authorization": f"Bearer {server.keys[who]}"}


@pytest.fixture()
def names(service_server, arxiv_sample):
    """A private and a public collection of alice's, 200 real rows each with str ids and labels."""
    tag = uuid.uuid4().hex[:8]
    with vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as alice:
        for kind in ("private", "public"):
            col = alice.create_collection(f"{kind}-{tag}", dim=384, metric="cosine", private=kind == "private")
            col.add(
                arxiv_sample["vectors"][:200],
                ids=[f"{kind}-{tag}-{i}" for i in range(200)],
                labels=[f"secret-label-{tag}" if kind == "private" else "open"] * 200,
            )
    return {"private": f"private-{tag}", "public": f"public-{tag}", "tag": tag}


ROUTES = [
    ("GET", "{c}", None),
    ("GET", "{c}/versions", None),
    ("GET", "{c}/stats", None),
    ("GET", "{c}/info", None),
    ("POST", "{c}/search", {"vectors": [[0.1] * 384]}),
    ("POST", "{c}/get", {"ids": ["x"]}),
    ("POST", "{c}/verify", {}),
    ("POST", "{c}/add", {"vectors": [[0.1] * 384]}),
    ("POST", "{c}/build", None),
    ("POST", "{c}/compact", None),
    ("POST", "{c}/delete", {"ids": ["x"]}),
    ("POST", "{c}/upsert", {"vectors": [[0.1] * 384], "ids": ["x"]}),
    ("POST", "{c}/embed", {"texts": ["a"]}),
    ("POST", "{c}/search_text", {"texts": ["a"]}),
    ("POST", "{c}/classify", {"texts": ["a"]}),
    ("POST", "{c}/recommend", {"users": [1]}),
    ("DELETE", "{c}", None),
]


def test_a_private_collection_is_invisible_to_other_tenants_on_every_route(service_server, names):
    bob = _h(service_server, "bob")
    listed = httpx.get(service_server.url + "/collections", headers=bob).json()["collections"]
    assert names["public"] in {c["name"] for c in listed} and names["private"] not in {c["name"] for c in listed}
    for method, path, body in ROUTES:
        for target in (names["private"], f"absent-{names['tag']}"):  # hidden and absent answer alike
            r = httpx.request(
                method, service_server.url + "/collections/" + path.format(c=target), json=body, headers=bob
            )
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"]["message"] == "no such collection (or none this key may see)"
            assert names["tag"] not in r.text


def test_a_public_collection_is_readable_by_all_and_writable_by_its_owner_only(service_server, names, arxiv_sample):
    with vectree.connect(service_server.url, api_key=service_server.keys["bob"]) as bob:
        col = bob.open_collection(names["public"])
        res = col.search(arxiv_sample["vectors"][:3], k=1, exact=True)
        assert res.ids[:, 0].tolist() == [f"{names['public']}-{i}" for i in range(3)]
        with pytest.raises(ServiceError) as err:
            col.add(arxiv_sample["vectors"][300:301], ids=["bob-row"])
        assert err.value.status == 403 and "belongs to tenant 'alice'" in str(err.value)
        with pytest.raises(ServiceError):
            bob.drop_collection(names["public"])
    with vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as alice:
        assert len(alice.open_collection(names["public"])) == 200  # nothing bob tried landed


def test_a_read_only_key_reads_but_never_writes(service_server, names, arxiv_sample):
    with vectree.connect(service_server.url, api_key=service_server.keys["alice_ro"]) as ro:
        col = ro.open_collection(names["private"])  # its tenant's private collection: visible
        assert col.search(arxiv_sample["vectors"][0], k=1, exact=True).ids[0, 0] == f"{names['private']}-0"
        for write in (
            lambda: col.add(arxiv_sample["vectors"][:1], ids=["ro"]),
            col.build,
            lambda: col.delete([f"{names['private']}-0"]),
            lambda: ro.create_collection(f"ro-{names['tag']}", dim=2),
            lambda: ro.drop_collection(names["private"]),
        ):
            with pytest.raises(ServiceError) as err:
                write()
            assert err.value.status == 403
        assert len(col.refresh()) == 200


def test_an_admin_key_sees_and_changes_every_tenant(service_server, names, arxiv_sample):
    with vectree.connect(service_server.url, api_key=service_server.keys["admin"]) as admin:
        assert {names["private"], names["public"]} <= {c["name"] for c in admin.list_collections()}
        col = admin.open_collection(names["private"])
        assert col.owner == "alice" and col.private
        col.delete([f"{names['private']}-0"])
        admin.drop_collection(names["private"])
    with (
        vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as alice,
        pytest.raises(NotFoundError),
    ):
        alice.open_collection(names["private"])


def test_requests_without_a_valid_key_get_401(service_server):
    for headers in (
        {},
        {"authorization": "Bearer nope"},
        {"authorization": "Bearer vt_0123456789abcdef_" + "x" * 43},
        {"x-api-key": service_server.keys["alice"][:-2] + "zz"},
    ):
        r = httpx.get(service_server.url + "/collections", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "Unauthorized"
    assert (
        httpx.get(service_server.url + "/collections", headers={"x-api-key": service_server.keys["alice"]}).status_code
        == 200
    )


def test_keys_are_stored_as_salted_hashes_and_revocation_reaches_the_server(service_server, tmp_path):
    from vectree.service.tenants import list_keys, revoke_key
    from vectree.storage.url import open_store

    key = service_server.create_key("temp", "carol")
    stored = b"".join(p.read_bytes() for p in __import__("pathlib").Path(service_server.root).rglob("*.json"))
    secret = key.split("_", 2)[2]
    assert secret.encode() not in stored and key.encode() not in stored
    headers = {"authorization": f"Bearer {key}"}
    assert httpx.get(service_server.url + "/whoami", headers=headers).json()["tenant"] == "carol"
    store = open_store(service_server.root)
    key_id = key.split("_")[1]
    revoke_key(store, key_id)
    assert [k["revoked"] for k in list_keys(store) if k["key_id"] == key_id] == [True]
    deadline = time.monotonic() + 30  # the server trusts a checked key for key_cache_s (2 s)
    while httpx.get(service_server.url + "/whoami", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key kept working"
        time.sleep(0.2)


def test_keys_cli_prints_a_key_once_and_lists_it_without_the_secret(tmp_path):
    from typer.testing import CliRunner

    from vectree.cli.main import app

    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", str(tmp_path), "--tenant", "dave", "--read-only"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("vt_")
    listed = runner.invoke(app, ["keys", "list", str(tmp_path)])
    assert "dave" in listed.stdout and key.split("_", 2)[2] not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", str(tmp_path), key.split("_")[1]]).exit_code == 0
    assert runner.invoke(app, ["keys", "create", str(tmp_path), "--tenant", "bad name!"]).exit_code == 2


def test_two_tenants_may_not_claim_one_name(service_server):
    name = f"shared-{uuid.uuid4().hex[:8]}"
    with (
        vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as alice,
        vectree.connect(service_server.url, api_key=service_server.keys["bob"]) as bob,
    ):
        alice.create_collection(name, dim=4, private=True)
        r = httpx.post(
            service_server.url + "/collections", json={"name": name, "dim": 4}, headers=_h(service_server, "bob")
        )
        assert r.status_code == 409 and r.json()["error"]["type"] == "NameTaken"
        with pytest.raises(NotFoundError):
            bob.open_collection(name)
        assert np.isscalar(alice.open_collection(name).add(np.ones((1, 4))))

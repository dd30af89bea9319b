"""One error shape with the right status for every refusal, and the configured limits, on a real server."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pytest

import vectree
from tests.serviceserver import ServiceServer
from vectree.errors import InvalidInputError, NotFoundError
from vectree.service.calls import PayloadTooLargeError, ServiceError
from vectree.service.wire import ARROW, rows_to_arrow


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """A server with small limits: 64 KiB bodies, 50 rows a request, k <= 20, 2 requests/s, bursts of 10 per tenant."""
    root = tmp_path_factory.mktemp("tight")
    server = ServiceServer(
        root,
        args=["--max-body-mb", str(64 / 1024), "--max-batch", "50", "--max-k", "20", "--rate", "2", "--burst", "10"],
    )
    server.create_key("alice", "alice")
    server.create_key("carol", "carol")  # the rate test's own tenant: rates are per tenant
    server.start()
    yield server
    server.stop()


def _shape(r: httpx.Response, status: int, type_: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "detail"}
    assert "Traceback" not in r.text and 'File "' not in r.text
    if type_:
        assert body["error"]["type"] == type_
    return body["error"]


def test_bad_input_is_400_naming_the_problem_and_schema_errors_are_422(service_server):
    h = {"authorization": f"Bearer {service_server.keys['alice']}"}
    name = f"err-{uuid.uuid4().hex[:8]}"
    base = service_server.url + f"/collections/{name}"
    assert httpx.post(service_server.url + "/collections", json={"name": name, "dim": 3}, headers=h).status_code == 201
    err = _shape(httpx.post(base + "/add", json={"vectors": [[1, 2]]}, headers=h), 400, "InvalidInputError")
    assert "dimension 2" in err["message"] and "dim is 3" in err["message"]
    _shape(httpx.post(base + "/add", json={"vectors": [[1, 2, 3], [1, 2]]}, headers=h), 400)
    _shape(httpx.post(base + "/search", json={"vectors": [[1, 2, 3]], "k": 0}, headers=h), 400)
    assert "NaN" in _shape(httpx.post(base + "/add", content=b'{"vectors": [[NaN, 1, 2]]}', headers=h), 400)["message"]
    err = _shape(httpx.post(base + "/search", json={"vectors": "nope"}, headers=h), 422, "ValidationError")
    assert err["message"].startswith("vectors")
    _shape(httpx.post(base + "/search", content=b"{not json", headers=h), 422)
    _shape(httpx.post(base + "/search", json={"vectors": [[1, 2, 3]], "surprise": 1}, headers=h), 422)
    _shape(httpx.post(service_server.url + "/collections", json={"name": "bad/name", "dim": 3}, headers=h), 400)
    _shape(httpx.post(service_server.url + "/collections", json={"name": name, "dim": 3}, headers=h), 409, "NameTaken")
    _shape(httpx.post(base + "/add", content=b"garbage", headers=h | {"content-type": ARROW}), 400)
    _shape(httpx.post(base + "/get", json={"ids": [123]}, headers=h), 404, "NotFoundError")
    _shape(httpx.get(service_server.url + "/collections/nothing-here", headers=h), 404)
    _shape(httpx.get(service_server.url + "/no/such/route", headers=h), 404)
    assert httpx.get(base + "/versions", headers=h).json()["versions"][-1]["version"] == 0  # nothing bad landed


def test_the_client_raises_the_library_errors(service_server):
    with vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as db:
        col = db.create_collection(f"lib-{uuid.uuid4().hex[:8]}", dim=3)
        with pytest.raises(InvalidInputError, match="dimension 2"):
            col.add(np.ones((2, 2)))
        with pytest.raises(InvalidInputError, match="NaN"):
            col.add(np.array([[np.nan, 1, 2]]))
        with pytest.raises(InvalidInputError, match="already exists"):
            db.create_collection(col.name, dim=3)
        assert db.create_collection(col.name, dim=3, exist_ok=True).name == col.name
        with pytest.raises(NotFoundError):
            db.open_collection("absent-" + col.name)
        with pytest.raises(NotFoundError):
            col.delete([99])
        assert col.refresh().version == 0
    with pytest.raises(ServiceError) as err, vectree.connect(service_server.url, api_key="vt_bad") as bad:
        bad.list_collections()
    assert err.value.status == 401


def test_bodies_past_the_limit_get_413_and_batch_and_k_limits_400(tight):
    h = {"authorization": f"Bearer {tight.keys['alice']}"}
    with vectree.connect(tight.url, api_key=tight.keys["alice"]) as db:
        col = db.create_collection(f"lim-{uuid.uuid4().hex[:8]}", dim=384)
        big = np.random.default_rng(0).normal(size=(300, 384)).astype(np.float32)  # 450 KiB as Arrow
        with pytest.raises(PayloadTooLargeError):
            col.add(big)
        err = _shape(
            httpx.post(
                tight.url + f"/collections/{col.name}/add",
                content=rows_to_arrow(big),
                headers=h | {"content-type": ARROW},
            ),
            413,
        )
        assert "65536" in err["message"]
        small = db.create_collection(f"lim4-{uuid.uuid4().hex[:8]}", dim=4)
        with pytest.raises(InvalidInputError, match="at most 50"):
            small.add(big[:60, :4])
        assert small.add(big[:40, :4]) == 1 and len(small) == 40
        with pytest.raises(InvalidInputError, match="limit of 20"):
            small.search(big[0, :4], k=21)


def test_a_tenant_past_its_rate_gets_429_and_the_client_retries(tight):
    from concurrent.futures import ThreadPoolExecutor

    h = {"authorization": f"Bearer {tight.keys['carol']}"}
    with ThreadPoolExecutor(8) as pool:  # 40 at once against a burst of 10
        answers = list(pool.map(lambda _: httpx.get(tight.url + "/whoami", headers=h), range(40)))
    limited = [r for r in answers if r.status_code == 429]
    assert limited and sum(r.status_code == 200 for r in answers) >= 10
    _shape(limited[0], 429, "RateLimited")
    assert int(limited[0].headers["retry-after"]) >= 1
    alice = httpx.get(tight.url + "/whoami", headers={"authorization": f"Bearer {tight.keys['alice']}"})
    assert alice.status_code == 200  # another tenant is not slowed by carol
    with vectree.connect(tight.url, api_key=tight.keys["carol"], retries=10, backoff_s=0.2) as db:
        for _ in range(12):  # past the burst: every call still succeeds, after waiting
            assert db.whoami()["tenant"] == "carol"
    with vectree.connect(tight.url, api_key=tight.keys["carol"], retries=0) as impatient:
        with pytest.raises(ServiceError) as err:
            for _ in range(40):
                impatient.whoami()
        assert err.value.status == 429


def test_a_build_that_loses_its_commit_race_is_409_and_changes_nothing(service_server, arxiv_sample):
    import threading

    h = {"authorization": f"Bearer {service_server.keys['alice']}"}
    name = f"race-{uuid.uuid4().hex[:8]}"
    with vectree.connect(service_server.url, api_key=service_server.keys["alice"]) as db:
        col = db.create_collection(name, dim=384, metric="cosine", bucket_size=50)
        col.add(arxiv_sample["vectors"][:3000])
    answers: list[httpx.Response] = []
    for _ in range(5):
        done = threading.Event()

        def build(done: threading.Event = done) -> None:
            answers.append(httpx.post(service_server.url + f"/collections/{name}/build", headers=h, timeout=120))
            done.set()

        threading.Thread(target=build).start()
        i = 0
        while not done.is_set():  # other writers commit while the build runs
            i += 1
            r = httpx.post(
                service_server.url + f"/collections/{name}/add",
                json={"vectors": [arxiv_sample["vectors"][3000 + i % 900].tolist()]},
                headers=h,
            )
            assert r.status_code == 200, r.text
        if answers[-1].status_code == 409:
            break
    err = _shape(answers[-1], 409, "ConflictError")
    assert "changed" in err["message"] and "while rebuilding" in err["message"]
    versions = httpx.get(service_server.url + f"/collections/{name}/versions", headers=h).json()["versions"]
    builds = [v for v in versions if v["operation"] == "build"]
    assert len(builds) == sum(a.status_code == 200 for a in answers)  # a build answered 409 committed nothing

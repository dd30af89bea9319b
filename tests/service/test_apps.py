"""The application routes on a collection carrying them: embed, search by text, classify (real model, real titles)."""

from __future__ import annotations

import httpx
import numpy as np

import vectree


def test_embed_search_text_and_classify_answer_as_the_local_library(service_server, papers, arxiv_sample):
    name, clf = papers
    texts = arxiv_sample["titles"][3000:3020]
    with vectree.connect(service_server.url, api_key=service_server.keys["bob"]) as bob:  # public: bob may read
        col = bob.open_collection(name)
        assert set(col.info["apps"]) == {"embed", "search_text", "classify"}
        vecs = col.embed(texts)
        np.testing.assert_allclose(vecs, clf.embedder.encode(texts), rtol=1e-5, atol=1e-6)
        local = vectree.open_collection(clf.collection_.url)
        a = local.search(clf.embedder.encode(texts), k=5, probes=4)
        b = col.search_text(texts, k=5, probes=4)
        np.testing.assert_array_equal(b.ids, a.ids)
        np.testing.assert_array_equal(b.labels, a.labels)
        out = col.classify(texts)
        assert out["labels"] == clf.predict(texts).tolist()
        np.testing.assert_allclose(out["probabilities"], clf.predict_proba(texts), atol=1e-5)
        assert (
            sum(lab == want for lab, want in zip(out["labels"], arxiv_sample["categories"][3000:3020])) >= 5
        )  # it learned something
    h = {"authorization": f"Bearer {service_server.keys['bob']}"}
    r = httpx.post(f"{service_server.url}/collections/{name}/recommend", json={"users": [1]}, headers=h)
    assert r.status_code == 404 and "carries no recommender" in r.json()["error"]["message"]

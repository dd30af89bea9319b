"""Threads sharing one reader of a collection with codes on disk, with a read cache small enough that code
spans come and go: every two-phase answer (batch and single, codes read again after evictions, dead rows
after a delete) is the one a single thread gets."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import vectree


@pytest.mark.parametrize("codes", ["int8", "rabitq"])
def test_two_phase_reads_under_threads_and_evictions_give_single_thread_answers(arxiv_sample, tmp_path, codes):
    x = arxiv_sample["vectors"]
    col = vectree.create_collection(tmp_path / "c", dim=x.shape[1], metric="cosine", bucket_size=100, codes=codes)
    col.add(x[:2400], ids=np.arange(2400))
    col.build()
    col.delete(np.arange(0, 2400, 13))
    reader = vectree.open_collection(tmp_path / "c", cache_bytes=150_000)  # ~4 code spans: evicted all the time
    queries = x[2400:2490]
    want_one = [reader.search(q, k=10, probes=5) for q in queries]
    want_batch = reader.search(queries[:16], k=10, probes=4)
    assert want_one[0].stats["two_phase"] and want_batch.stats["two_phase"]
    errors: list[BaseException] = []
    stop = time.time() + float(os.environ.get("VECTREE_STRESS_SECONDS", "2"))

    def run(offset: int) -> None:
        try:
            while time.time() < stop:
                for i in range(offset, len(queries), 3):
                    got = reader.search(queries[i], k=10, probes=5)
                    np.testing.assert_array_equal(got.ids, want_one[i].ids)
                    np.testing.assert_array_equal(got.distances, want_one[i].distances)
                got = reader.search(queries[:16], k=10, probes=4)
                np.testing.assert_array_equal(got.ids, want_batch.ids)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(o,)) for o in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert reader.stats()["cache"]["evictions"] > 0

"""Random sequences of add / upsert / delete / compact / build / cleanup / reopen, checked against a plain dict.

A Hypothesis state machine (as Chroma's chromadb/test/property/ tests its collections): ids come
from a small pool and vectors from a few values, so the same rows are written, deleted and written
again often; after every step the collection must hold exactly the rows of the model, through
``len``, ``get``, ``iter_batches`` and an exact search, and ``verify`` must pass. ``VECTREE_PROPERTY_EXAMPLES``
runs more sequences (the CI default is bounded to stay around a minute on two cores).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import vectree
from vectree.errors import InvalidInputError, NotFoundError

DIM = 3
# a real local store, on tmpfs where there is one (its fsyncs are free: the steps test logic, not disks)
_FAST_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
IDS = st.integers(0, 11)
ROW = st.tuples(IDS, st.tuples(*[st.integers(-1, 1)] * DIM), st.none() | st.integers(0, 2))


def _batch(rows):
    """Unique ids, first occurrence wins (a batch may not repeat an id)."""
    out = {}
    for i, vec, label in rows:
        out.setdefault(i, (vec, label))
    return out


class Writes(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="vectree-prop-", dir=_FAST_DIR)
        self.model: dict[int, tuple[tuple[int, ...], int | None]] = {}
        self.col = None
        self.steps = 0

    @initialize(bucket_size=st.sampled_from([1, 2, 4, 50]), tree_rule=st.sampled_from(["kmeans", "variance"]))
    def create(self, bucket_size, tree_rule):
        self.col = vectree.create_collection(
            os.path.join(self.dir, "c"), dim=DIM, bucket_size=bucket_size, tree_rule=tree_rule
        )

    def _write_args(self, batch):
        ids = sorted(batch)
        vecs = np.array([batch[i][0] for i in ids], np.float32)
        labels = [batch[i][1] for i in ids]
        return vecs, ids, (labels if any(lab is not None for lab in labels) else None)

    @rule(rows=st.lists(ROW, min_size=1, max_size=5))
    def add(self, rows):
        batch = _batch(rows)
        vecs, ids, labels = self._write_args(batch)
        if any(i in self.model for i in ids):
            before = self.col.version
            with pytest.raises(InvalidInputError, match="already stored"):
                self.col.add(vecs, ids=ids, labels=labels)
            assert vectree.open_collection(self.col.url).version == before
            return
        self.col.add(vecs, ids=ids, labels=labels)
        self.model.update(batch)

    @rule(rows=st.lists(ROW, min_size=1, max_size=5))
    def upsert(self, rows):
        batch = _batch(rows)
        vecs, ids, labels = self._write_args(batch)
        self.col.upsert(vecs, ids=ids, labels=labels)
        self.model.update(batch)

    @rule(ids=st.sets(IDS, min_size=1, max_size=4))
    def delete(self, ids):
        ids = sorted(ids)
        if any(i not in self.model for i in ids):
            with pytest.raises(NotFoundError):
                self.col.delete(ids)
            self.col.delete(ids, missing_ok=True)
        else:
            self.col.delete(ids)
        for i in ids:
            self.model.pop(i, None)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_then_add_back(self, data):
        """The sequence that lost rows: delete some rows, then add exactly the same rows again."""
        ids = sorted(data.draw(st.sets(st.sampled_from(sorted(self.model)), min_size=1)))
        batch = {i: self.model[i] for i in ids}
        self.col.delete(ids)
        self.col.add(*self._write_args(batch)[:1], ids=ids, labels=self._write_args(batch)[2])

    @precondition(lambda self: self.model)
    @rule()
    def build(self):
        self.col.build()

    @rule()
    def compact(self):
        if self.model:
            self.col.compact()

    @rule()
    def cleanup(self):
        """Delete every older version and unreferenced object at once (no grace): nothing live may go."""
        self.col.cleanup(older_than=0, grace=0)

    @rule()
    def reopen(self):
        self.col = vectree.open_collection(self.col.url)

    @invariant()
    def same_rows_as_the_model(self):
        if self.col is None:
            return
        self.steps += 1
        col = self.col
        assert len(col) == len(self.model)
        stored = {}
        for b in col.iter_batches(batch_size=7):
            labels = b["labels"] if b["labels"] is not None else [None] * len(b["ids"])
            for i, v, lab in zip(b["ids"].tolist(), b["vectors"], labels):
                assert i not in stored, f"id {i} is stored twice"
                stored[int(i)] = (tuple(int(x) for x in v), None if lab is None else int(lab))
        assert stored == self.model
        scratch = os.path.join(self.dir, "c", "_tmp")
        assert not os.path.isdir(scratch) or not os.listdir(scratch), "a finished call left temporary files"
        if not self.model:
            return
        ids = sorted(self.model)
        got = col.get(ids)
        np.testing.assert_array_equal(got.vectors, np.array([self.model[i][0] for i in ids], np.float32))
        res = col.search(np.zeros(DIM, np.float32), k=len(ids) + 2, exact=True)
        found = [i for i in res.ids[0].tolist() if i != -1]
        assert sorted(found) == ids
        for i in set(range(12)) - set(ids):
            with pytest.raises(NotFoundError):
                col.get([i])
        if self.steps % 5 == 0:
            assert col.verify().ok

    def teardown(self):
        if self.col is not None:
            self.col.close()
        shutil.rmtree(self.dir, ignore_errors=True)


Writes.TestCase.settings = settings(
    max_examples=int(os.environ.get("VECTREE_PROPERTY_EXAMPLES", "60")),
    stateful_step_count=int(os.environ.get("VECTREE_PROPERTY_STEPS", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=os.environ.get("VECTREE_PROPERTY_RANDOM") is None,
)
TestWritesMatchAModel = Writes.TestCase

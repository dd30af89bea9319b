"""The read cache's arena: decoded buckets in shared slabs, freed and compacted as the cache churns."""

import gc

import numpy as np

import vectree
from vectree.collection.arena import Arena, aligned_size


def test_a_slab_is_dropped_when_the_cache_holds_nothing_in_it_and_sparse_ones_hand_out_their_members():
    arena = Arena(capacity_bytes=4 << 20, slab_bytes=256 << 10)  # objects up to 64 KiB in the slabs
    size = 64 << 10
    placed = [arena.copy_in(bytes([i]) * size, f"k{i}") for i in range(8)]  # 4 per slab: slabs 0 and 1
    assert [slab for _, slab in placed] == [0, 0, 0, 0, 1, 1, 1, 1] and arena.slabs == 2
    assert all((data == i).all() for i, (data, _) in enumerate(placed))
    # slab 0 (no longer current) loses one of four objects: 75% still cached, at the threshold: kept
    assert arena.release(0, "k0", aligned_size(size)) == []
    # a second one leaves it under 75%: its remaining members are handed out once to be moved
    assert arena.release(0, "k1", aligned_size(size)) == ["k2", "k3"]
    assert arena.release(0, "k2", aligned_size(size)) == []  # not again while it drains
    arena.release(0, "k3", aligned_size(size))
    assert arena.slabs == 1 and arena.live_bytes(0) == 0
    # the arrays placed there stay readable: the slab is freed only with its last view
    assert (placed[3][0] == 3).all()


def test_a_slab_that_retires_sparse_or_whose_member_was_still_being_read_is_listed_for_moving():
    arena = Arena(capacity_bytes=4 << 20, slab_bytes=256 << 10)
    size = aligned_size(64 << 10)
    for i in range(4):
        arena.reserve(size, f"a{i}")  # slab 0, the current one
    arena.release(0, "a0", size)
    arena.release(0, "a1", size)  # the current slab hands nothing out
    assert arena.draining() == []
    arena.reserve(size, "b0")  # slab 0 is full: slab 1 starts, and slab 0 retires at half
    assert arena.draining() == [(0, "a2"), (0, "a3")]
    for i in range(1, 4):
        arena.reserve(size, f"b{i}")  # slab 1 full
    arena.reserve(size, "c0")  # slab 2 starts; slab 1 retires full
    arena.release(1, "b0", size)
    assert arena.release(1, "b1", size) == ["b2", "b3"]  # handed out once, say while b3 was still read
    arena.release(1, "b2", size)  # b2 was moved; b3 could not be: listed until it is
    assert arena.draining() == [(0, "a2"), (0, "a3"), (1, "b3")]
    arena.release(1, "b3", size)
    assert arena.draining() == [(0, "a2"), (0, "a3")] and arena.slabs == 2


def test_a_dropped_slab_is_filled_again_only_once_no_array_uses_it():
    arena = Arena(capacity_bytes=4 << 20, slab_bytes=256 << 10)
    size = 64 << 10
    held = [arena.copy_in(bytes([i]) * size, f"a{i}")[0] for i in range(4)]  # slab 0
    arena.copy_in(b"x" * size, "b0")  # slab 1 is current
    for i in range(4):
        arena.release(0, f"a{i}", aligned_size(size))  # slab 0 dropped, a3's array still held
    del held[:3]
    for i in range(1, 5):
        arena.copy_in(b"y" * size, f"b{i}")  # slab 1 fills; b4 starts slab 2: new memory (slab 0's is read)
    assert arena.reused == 0 and (held[0] == 3).all()  # the array a query still holds reads what it did
    del held[0]
    for i in range(5, 9):
        arena.copy_in(b"z" * size, f"b{i}")  # b8 starts slab 3: slab 0's memory, no array left on it
    assert arena.reused == 1 and arena.slabs == 3


def test_slabs_are_1_16_of_the_cache_up_to_32_mib_and_none_for_a_cache_under_16_mib():
    assert (Arena(64 << 20).slab_bytes, Arena(64 << 20).enabled) == (4 << 20, True)
    assert Arena(4 << 30).slab_bytes == 32 << 20
    small = Arena(8 << 20)
    data, slab = small.copy_in(b"abc", "k")
    assert not small.enabled and slab is None and bytes(data) == b"abc" and small.slabs == 0


def test_an_object_larger_than_a_quarter_slab_gets_memory_of_its_own():
    arena = Arena(capacity_bytes=4 << 20, slab_bytes=256 << 10)
    data, slab = arena.copy_in(b"x" * (100 << 10), "big")
    assert slab is None and arena.slabs == 0 and bytes(data[:3]) == b"xxx"
    assert arena.release(None, "big", len(data)) == []


def test_a_churning_cache_answers_as_an_unbounded_one_and_its_slabs_stay_near_its_capacity(tmp_path, arxiv_sample):
    vectors = arxiv_sample["vectors"]
    col = vectree.create_collection(str(tmp_path / "c"), dim=384, metric="cosine", bucket_size=24)
    col.add(vectors[:3600], ids=np.arange(3600))
    col.build()
    col.delete(np.arange(0, 3600, 7))
    capacity = 2 << 20  # ~45 of the ~150 buckets (37 KB each): slabs of 256 KiB, 6 buckets to a slab
    small = vectree.open_collection(str(tmp_path / "c"), cache_bytes=capacity, cache_slab_bytes=256 << 10)
    everything = vectree.open_collection(str(tmp_path / "c"))
    queries = vectors[3600:4000]
    rng = np.random.default_rng(0)
    peak_slabs = 0
    for _ in range(6):
        q = queries[rng.choice(len(queries), 60, replace=False)]
        for i in range(0, 60, 3):  # single queries and small batches: the compiled scan
            got = small.search(q[i] if i % 2 else q[i : i + 3], k=10, probes=12)
            want = everything.search(q[i] if i % 2 else q[i : i + 3], k=10, probes=12)
            np.testing.assert_array_equal(got.ids, want.ids)
            np.testing.assert_array_equal(got.distances, want.distances)
        stats = small.stats()["cache"]
        peak_slabs = max(peak_slabs, stats["slabs"])
    assert stats["evictions"] > 200 and stats["moves"] > 0, stats
    # the slabs dropped are filled again (none of their arrays in use by then), not allocated anew
    assert stats["slabs_reused"] > 0, stats
    # live slabs hold at least 3/4 of a slab of cached blocks each, but for the one being filled
    # (and one being drained): the slabs never pass the capacity / 0.75 by more than two slabs
    assert peak_slabs * stats["slab_bytes"] <= capacity / 0.75 + 2 * stats["slab_bytes"], (peak_slabs, stats)
    small.close()
    gc.collect()

"""The byte-bounded LRU: what it keeps, what it lets go, and the generation that says it let go."""

from vectree.storage.cache import ByteLRU


def test_least_recently_used_goes_first_and_generation_counts_every_departure():
    lru = ByteLRU(10)
    lru.put("a", "A", 4)
    lru.put("b", "B", 4)
    assert lru.generation == 0
    assert lru.get("a") == "A"  # a is now the most recent
    lru.put("c", "C", 4)  # over 10 bytes: b, the least recent, goes
    assert "b" not in lru and "a" in lru and "c" in lru
    assert (lru.generation, lru.stats.evictions, lru.size_bytes) == (1, 1, 8)
    lru.put("a", "A2", 4)  # replaced: the old value left
    assert lru.generation == 2 and lru.get("a") == "A2"
    lru.clear()
    assert lru.generation == 3 and len(lru) == 0 and lru.size_bytes == 0


def test_a_value_larger_than_the_cache_flushes_nothing():
    lru = ByteLRU(10)
    lru.put("a", "A", 4)
    lru.put("huge", "H", 11)
    assert "huge" not in lru and lru.get("a") == "A" and lru.generation == 0


def test_get_many_refreshes_recency_and_counts():
    lru = ByteLRU(8)
    lru.put("a", "A", 4)
    lru.put("b", "B", 4)
    assert lru.get_many(["a", "zz"]) == ["A", None]
    lru.put("c", "C", 4)
    assert "a" in lru and "b" not in lru
    assert (lru.stats.hits, lru.stats.misses) == (1, 1)

"""The byte-bounded LRU: what it keeps, what it lets go, and that it says what it let go."""

from vectree.storage.cache import ByteLRU


def test_least_recently_used_goes_first_and_every_departure_is_reported():
    gone = []
    lru = ByteLRU(10, on_evict=lambda key, value: gone.append((key, value)))
    lru.put("a", "A", 4)
    lru.put("b", "B", 4)
    assert gone == []
    assert lru.get("a") == "A"  # a is now the most recent
    lru.put("c", "C", 4)  # over 10 bytes: b, the least recent, goes
    assert "b" not in lru and "a" in lru and "c" in lru
    assert (gone, lru.stats.evictions, lru.size_bytes) == ([("b", "B")], 1, 8)
    lru.put("a", "A2", 4)  # replaced: the old value left
    assert gone[-1] == ("a", "A") and lru.get("a") == "A2"
    lru.clear()
    assert sorted(gone[-2:]) == [("a", "A2"), ("c", "C")] and len(lru) == 0 and lru.size_bytes == 0


def test_a_value_larger_than_the_cache_flushes_nothing_and_is_let_go_at_once():
    gone = []
    lru = ByteLRU(10, on_evict=lambda key, value: gone.append(key))
    lru.put("a", "A", 4)
    lru.put("huge", "H", 11)
    assert "huge" not in lru and lru.get("a") == "A" and gone == ["huge"]


def test_replace_swaps_a_value_only_if_it_is_still_there():
    lru = ByteLRU(10)
    lru.put("a", "A", 4)
    lru.put("b", "B", 4)
    assert lru.replace("a", "A", "A'") and lru.peek("a") == "A'"
    assert not lru.replace("a", "A", "A''")  # not the value held any more
    assert not lru.replace("zz", "A", "Z")
    lru.put("c", "C", 4)  # a is still the least recent (replace and peek do not refresh it)
    assert "a" not in lru and lru.stats.hits == 0


def test_get_many_refreshes_recency_and_counts():
    lru = ByteLRU(8)
    lru.put("a", "A", 4)
    lru.put("b", "B", 4)
    assert lru.get_many(["a", "zz"]) == ["A", None]
    lru.put("c", "C", 4)
    assert "a" in lru and "b" not in lru
    assert (lru.stats.hits, lru.stats.misses) == (1, 1)

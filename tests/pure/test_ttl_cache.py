"""Tests of bj_api_sync.engine.ttl_cache: expiry, size bound, hashing of secrets."""
import hashlib
import threading

from bj_api_sync.engine.ttl_cache import TTLCache, secret_key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_value_lives_for_ttl_then_expires():
    clock = Clock()
    cache = TTLCache(ttl=60, clock=clock)
    cache.set("k", 7)
    clock.now += 59.9
    assert cache.get("k") == 7
    clock.now += 0.1
    assert cache.get("k") is None
    assert len(cache) == 0


def test_missing_key_gives_default():
    cache = TTLCache(ttl=10)
    assert cache.get("nope") is None
    assert cache.get("nope", "d") == "d"


def test_set_again_restarts_the_delay():
    clock = Clock()
    cache = TTLCache(ttl=10, clock=clock)
    cache.set("k", 1)
    clock.now += 8
    cache.set("k", 2)
    clock.now += 8
    assert cache.get("k") == 2


def test_oldest_entry_evicted_when_full():
    cache = TTLCache(ttl=100, maxsize=2)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    assert cache.get("a") is None
    assert (cache.get("b"), cache.get("c")) == (2, 3)
    assert len(cache) == 2


def test_zero_ttl_disables_the_cache():
    cache = TTLCache(ttl=0)
    cache.set("k", 1)
    assert cache.get("k") is None
    assert len(cache) == 0


def test_pop_and_clear():
    cache = TTLCache(ttl=100)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.pop("a")
    cache.pop("missing")
    assert cache.get("a") is None
    cache.clear()
    assert cache.get("b") is None


def test_secret_key_is_sha256_of_parts_joined_by_nul():
    assert secret_key("db", "key") == hashlib.sha256(b"db\0key").hexdigest()
    assert secret_key(b"raw") == hashlib.sha256(b"raw").hexdigest()
    # Part boundaries matter: ("ab", "c") and ("a", "bc") differ.
    assert secret_key("ab", "c") != secret_key("a", "bc")
    assert "key" not in secret_key("db", "key")


def test_thread_safety_under_concurrent_writes():
    cache = TTLCache(ttl=100, maxsize=50)

    def work(offset):
        for i in range(500):
            cache.set(offset + i, i)
            cache.get(offset + i - 1)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50

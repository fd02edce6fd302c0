"""A small, thread-safe, size-bounded cache whose entries expire after a delay.

Used by the inbound API to remember API-key checks: Odoo stores API keys as
pbkdf2 hashes, and verifying one costs milliseconds of CPU on every request.
Entries are keyed by a SHA-256 of the secret (see :func:`secret_key`), so the
raw key never sits in memory as a dictionary key, and expire after ``ttl``
seconds so that a revoked key stops working quickly.
"""
import hashlib
import threading
import time
from collections import OrderedDict

_MISSING = object()


def secret_key(*parts):
    """Return the hex SHA-256 of ``parts`` (str or bytes), joined by NUL bytes."""
    digest = hashlib.sha256()
    for index, part in enumerate(parts):
        if index:
            digest.update(b"\0")
        digest.update(part if isinstance(part, bytes) else str(part).encode("utf-8"))
    return digest.hexdigest()


class TTLCache:
    """Map keys to values for ``ttl`` seconds, keeping at most ``maxsize`` entries.

    ``clock`` returns the current time in seconds (``time.monotonic`` by
    default; tests inject a fake one). When full, the least recently stored
    entry is evicted first. A ``ttl`` of 0 or less disables the cache: nothing
    is ever returned.
    """

    def __init__(self, ttl=60.0, maxsize=1024, clock=time.monotonic):
        """Create an empty cache."""
        self.ttl = float(ttl)
        self.maxsize = max(1, int(maxsize))
        self._clock = clock
        self._data = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        """Return the live value of ``key``, or ``default`` (expired entries are dropped)."""
        if self.ttl <= 0:
            return default
        with self._lock:
            item = self._data.get(key, _MISSING)
            if item is _MISSING:
                return default
            expires, value = item
            if expires <= self._clock():
                del self._data[key]
                return default
            return value

    def set(self, key, value):
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._data.pop(key, None)
            self._data[key] = (self._clock() + self.ttl, value)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def pop(self, key):
        """Forget ``key`` (no error when absent)."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self):
        """Forget every entry."""
        with self._lock:
            self._data.clear()

    def __len__(self):
        """Return the number of stored entries, expired ones included."""
        return len(self._data)

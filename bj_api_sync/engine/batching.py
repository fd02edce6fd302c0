"""Split record streams into batches for paginated outbound delivery.

Batches are built lazily so that sending a million records never holds more
than one batch in memory at a time.
"""

import itertools
import logging
import operator
from collections.abc import Iterable, Iterator, Sequence

_logger = logging.getLogger(__name__)


def _check_size(size) -> int:
    """Return ``size`` as an int, refusing non-integers and values below 1."""
    if isinstance(size, bool):  # True would silently mean 1
        raise TypeError("batch size must be an integer, not a boolean")
    size = operator.index(size)
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    return size


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    """Yield lists of at most ``size`` consecutive items of ``iterable``.

    The input is consumed lazily (one batch at a time), so generators and
    other one-shot iterables keep memory flat. ``size`` is validated at call
    time: below 1 raises ``ValueError``, a non-integer ``TypeError``.
    """
    size = _check_size(size)
    return _chunked(iter(iterable), size)


def _chunked(iterator: Iterator, size: int) -> Iterator[list]:
    """Generator behind :func:`chunked` (kept separate so validation is eager)."""
    while True:
        batch = list(itertools.islice(iterator, size))
        if not batch:
            return
        yield batch


def chunk_ids(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    """Yield lists of at most ``size`` ids, in the given order.

    Sequences (lists, tuples) are sliced; any other iterable is consumed
    lazily like :func:`chunked`. ``size`` is validated at call time.
    """
    size = _check_size(size)
    if isinstance(ids, Sequence) and not isinstance(ids, str | bytes):
        return (list(ids[start : start + size]) for start in range(0, len(ids), size))
    return _chunked(iter(ids), size)

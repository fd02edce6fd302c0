"""Send requests in a background thread while the caller prepares the next ones.

An outbound run alternates two kinds of work: reading and mapping records (in
the caller's thread, which owns the database cursor) and waiting for the
external API's answer. :class:`Sender` overlaps them: the caller submits ready
requests and collects finished ones, while one worker thread sends them in
order, over the same pooled connection, one at a time. The queue is bounded, so
memory stays flat and the external API never sees more than one request at a
time from a run. With ``threaded=False`` everything runs inline (one request).
"""
from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class Sender:
    """Runs ``send(item)`` for submitted items, in order, in one worker thread.

    ``submit(token, item)`` queues an item (blocking while ``depth`` items
    wait); ``completed()`` returns the ``(token, result)`` pairs finished so
    far; ``finish()`` waits for the rest and returns them. An exception raised
    by ``send`` stops the worker and is raised again by the next call of the
    caller (``submit``, ``completed`` or ``finish``). Use it as a context
    manager so the worker is always stopped.
    """

    def __init__(self, send: Callable[[Any], Any], *, depth: int = 4, threaded: bool = True):
        self._send = send
        self._done: collections.deque = collections.deque()
        self._error: BaseException | None = None
        self._thread = None
        if threaded:
            self._todo: queue.Queue = queue.Queue(maxsize=max(depth, 1))
            self._thread = threading.Thread(target=self._work, name="bj_api_sync-sender",
                                            daemon=True)
            self._thread.start()

    def _work(self):
        while True:
            entry = self._todo.get()
            if entry is _STOP:
                return
            token, item = entry
            try:
                result = self._send(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc
                return
            # deque.append is atomic: the caller pops from the other end.
            self._done.append((token, result))

    def _raise_error(self):
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, token, item) -> None:
        """Queue ``item``; ``token`` comes back with its result."""
        self._raise_error()
        if self._thread is None:
            self._done.append((token, self._send(item)))
            return
        while True:
            try:
                self._todo.put((token, item), timeout=0.5)
                return
            except queue.Full:
                # The worker may have died on an error while the queue was full.
                self._raise_error()
                if not self._thread.is_alive():
                    raise RuntimeError("the sender thread stopped") from None

    def completed(self) -> list:
        """Return the ``(token, result)`` pairs finished since the last call, in order."""
        self._raise_error()
        done = []
        while self._done:
            done.append(self._done.popleft())
        return done

    def finish(self) -> list:
        """Wait until every submitted item is sent; return the remaining results."""
        self._stop()
        return self.completed()

    def _stop(self, discard=False):
        if self._thread is not None and self._thread.is_alive():
            if discard:
                # The caller failed: requests not sent yet are not sent at all.
                try:
                    while True:
                        self._todo.get_nowait()
                except queue.Empty:
                    pass
            while self._thread.is_alive():
                try:
                    self._todo.put(_STOP, timeout=0.5)
                    break
                except queue.Full:
                    continue
            self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stop(discard=exc_type is not None)
        return False

"""Tests of the background sender (bj_api_sync.engine.pipeline), no Odoo needed."""
import threading
import time

import pytest

from bj_api_sync.engine.pipeline import Sender


def collect(sender, count):
    got = []
    for i in range(count):
        sender.submit(f"t{i}", i)
        got += sender.completed()
    return got + sender.finish()


@pytest.mark.parametrize("threaded", [True, False])
def test_every_item_once_in_order(threaded):
    with Sender(lambda item: item * 10, threaded=threaded) as sender:
        got = collect(sender, 200)
    assert got == [(f"t{i}", i * 10) for i in range(200)]


def test_sends_from_another_thread_one_at_a_time():
    threads, active, peak = set(), [0], [0]
    lock = threading.Lock()

    def send(item):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        threads.add(threading.get_ident())
        time.sleep(0.001)
        with lock:
            active[0] -= 1
        return item

    with Sender(send) as sender:
        collect(sender, 30)
    assert threads and threading.get_ident() not in threads
    assert peak[0] == 1


def test_inline_mode_sends_in_the_callers_thread():
    seen = []
    with Sender(lambda item: seen.append(threading.get_ident()), threaded=False) as sender:
        collect(sender, 3)
    assert seen == [threading.get_ident()] * 3


def test_queue_is_bounded():
    release = threading.Event()
    started = []

    def send(item):
        started.append(item)
        release.wait(5)
        return item

    sender = Sender(send, depth=2)
    submitted = []

    def producer():
        for i in range(10):
            sender.submit(i, i)
            submitted.append(i)

    thread = threading.Thread(target=producer)
    thread.start()
    time.sleep(0.2)
    # one item in the worker, two waiting, the fourth submit blocks
    assert len(submitted) == 3
    release.set()
    thread.join(5)
    assert [r for _t, r in sender.finish()] == list(range(10))


def test_an_error_in_send_reaches_the_caller():
    def send(item):
        if item == 3:
            raise ValueError("boom")
        return item

    with pytest.raises(ValueError, match="boom"), Sender(send) as sender:
        collect(sender, 50)


def test_unsent_items_are_dropped_when_the_caller_fails():
    sent = []
    gate = threading.Event()

    def send(item):
        gate.wait(5)
        sent.append(item)
        return item

    with pytest.raises(RuntimeError, match="caller"), Sender(send, depth=8) as sender:
        for i in range(6):
            sender.submit(i, i)
        time.sleep(0.1)  # the worker holds item 0
        threading.Timer(0.2, gate.set).start()  # ...until the caller is failing
        raise RuntimeError("caller failed")
    # only the item already in the worker's hands went out
    assert sent == [0]

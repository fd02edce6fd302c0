"""Tests of the outbound retry policy (classification, Retry-After, backoff)."""

import email.utils

import pytest
import requests
from urllib3 import exceptions as u3

from bj_api_sync.engine import policy

NO_JITTER = {"rand": lambda: 0.5}  # 2*0.5-1 == 0: the jitter factor is exactly 1


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_classify_status_success(status):
    assert policy.classify_status(status) == "success"


@pytest.mark.parametrize("status", [408, 425, 429, 500, 501, 502, 503, 504, 520, 599])
def test_classify_status_retry(status):
    assert policy.classify_status(status) == "retry"
    assert status in policy.RETRYABLE_STATUS


@pytest.mark.parametrize(
    "status",
    [
        100,
        101,
        300,
        301,
        302,
        304,
        307,
        400,
        401,
        403,
        404,
        405,
        409,
        410,
        413,
        422,
        600,
        0,
        None,
        "abc",
    ],
)
def test_classify_status_fail(status):
    assert policy.classify_status(status) == "fail"


def test_classify_status_accepts_numeric_strings():
    assert policy.classify_status("503") == "retry"


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("refused"),
        requests.exceptions.ConnectTimeout("connect"),
        requests.exceptions.ReadTimeout("read"),
        requests.exceptions.Timeout("generic"),
        requests.exceptions.ChunkedEncodingError("cut"),
        requests.exceptions.ProxyError("proxy down"),
        u3.ProtocolError("Connection aborted."),
        u3.ReadTimeoutError(None, "/", "Read timed out."),
        ConnectionResetError(104, "reset"),
        TimeoutError("socket timeout"),
    ],
)
def test_classify_exception_retry(exc):
    assert policy.classify_exception(exc) == "retry"


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.InvalidURL("bad"),
        requests.exceptions.MissingSchema("no schema"),
        requests.exceptions.InvalidSchema("ftp"),
        requests.exceptions.InvalidHeader("bad header"),
        requests.exceptions.TooManyRedirects("loop"),
        requests.exceptions.SSLError("certificate verify failed"),
        requests.exceptions.ContentDecodingError("gzip"),
        ValueError("x"),
        KeyError("x"),
        RuntimeError("x"),
    ],
)
def test_classify_exception_fail(exc):
    assert policy.classify_exception(exc) == "fail"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("1.5", 1.5),
        (b"7", 7.0),
    ],
)
def test_parse_retry_after_seconds(value, expected):
    assert policy.parse_retry_after(value) == expected


def test_parse_retry_after_http_date_future_and_past():
    now = 1_700_000_000.0
    future = email.utils.formatdate(now + 30, usegmt=True)
    past = email.utils.formatdate(now - 300, usegmt=True)
    assert policy.parse_retry_after(future, now=now) == pytest.approx(30.0)
    assert policy.parse_retry_after(past, now=now) == 0.0


def test_parse_retry_after_http_date_without_zone_is_gmt():
    now = 1_700_000_000.0
    value = email.utils.formatdate(now + 60, usegmt=True).replace("GMT", "-0000")
    assert policy.parse_retry_after(value, now=now) == pytest.approx(60.0)


@pytest.mark.parametrize(
    "value", [None, "", "   ", "soon", "Mon, 99 Foo 2024", "nan", "inf", "1e999"]
)
def test_parse_retry_after_garbage(value):
    assert policy.parse_retry_after(value) is None


def test_parse_retry_after_cap():
    assert policy.parse_retry_after("99999") == 3600.0
    assert policy.parse_retry_after("99999", cap=10) == 10.0
    now = 1_700_000_000.0
    far = email.utils.formatdate(now + 86_400, usegmt=True)
    assert policy.parse_retry_after(far, now=now, cap=120) == 120.0


def test_backoff_exact_values_without_jitter():
    assert [policy.backoff_delay(a, 1.0, **NO_JITTER) for a in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 16]
    assert [policy.backoff_delay(a, 2.5, **NO_JITTER) for a in (1, 2, 3)] == [2.5, 5, 10]
    assert policy.backoff_delay(1, 1.0, jitter=0) == 1.0


def test_backoff_jitter_bounds():
    assert policy.backoff_delay(3, 1.0, rand=lambda: 0.0) == pytest.approx(3.0)  # 4 * 0.75
    assert policy.backoff_delay(3, 1.0, rand=lambda: 1.0) == pytest.approx(5.0)  # 4 * 1.25
    samples = [policy.backoff_delay(2, 1.0) for _ in range(500)]
    assert all(1.5 <= s <= 2.5 for s in samples)
    assert len(set(samples)) > 1  # really random
    assert policy.backoff_delay(1, 1.0, jitter=0.5, rand=lambda: 0.0) == pytest.approx(0.5)


def test_backoff_never_negative_and_capped():
    assert policy.backoff_delay(1, 1.0, jitter=2.0, rand=lambda: 0.0) == 0.0
    assert policy.backoff_delay(20, 1.0, **NO_JITTER) == 3600.0
    assert policy.backoff_delay(10, 1.0, cap=60, **NO_JITTER) == 60.0
    assert policy.backoff_delay(10_000, 1.0, **NO_JITTER) == 3600.0  # no float overflow


def test_backoff_retry_after_override():
    assert policy.backoff_delay(1, 1.0, retry_after=10, **NO_JITTER) == 10.0
    assert policy.backoff_delay(4, 1.0, retry_after=2, **NO_JITTER) == 8.0  # computed is longer
    assert policy.backoff_delay(1, 1.0, retry_after=5000, **NO_JITTER) == 3600.0
    assert policy.backoff_delay(1, 1.0, retry_after=5000, cap=300, **NO_JITTER) == 300.0


def test_backoff_base_zero():
    assert policy.backoff_delay(3, 0) == 0.0
    assert policy.backoff_delay(3, None) == 0.0
    assert policy.backoff_delay(3, 0, retry_after=3) == 3.0


def test_backoff_attempt_below_one_is_first_retry():
    assert policy.backoff_delay(0, 1.0, **NO_JITTER) == 1.0


def test_backoff_negative_jitter_rejected():
    with pytest.raises(ValueError):
        policy.backoff_delay(1, 1.0, jitter=-0.1)


@pytest.mark.parametrize(
    "outcome, attempts, max_retries, expected",
    [
        ("retry", 1, 3, True),
        ("retry", 3, 3, True),
        ("retry", 4, 3, False),  # 1 attempt + 3 retries done
        ("retry", 1, 0, False),
        ("retry", 1, 1, True),
        ("retry", 2, 1, False),
        ("retry", 1, -5, False),
        ("retry", 1, None, False),
        ("fail", 1, 3, False),
        ("success", 1, 3, False),
    ],
)
def test_should_retry(outcome, attempts, max_retries, expected):
    assert policy.should_retry(outcome, attempts, policy.max_attempts(max_retries)) is expected


@pytest.mark.parametrize("max_retries, attempts", [(0, 1), (1, 2), (3, 4), (10, 11),
                                                   (-5, 1), (None, 1), ("2", 3)])
def test_max_attempts_is_the_first_attempt_plus_the_retries(max_retries, attempts):
    assert policy.max_attempts(max_retries) == attempts


# --------------------------------------------------------------------------
# the delivery worker's waits
# --------------------------------------------------------------------------

IDLE = {"stay": 75.0, "poll": 0.5, "remaining": 40.0}


def test_idle_worker_sleeps_until_a_near_item_is_due():
    assert policy.idle_sleep(0.3, **IDLE) == 0.3


def test_idle_worker_looks_again_every_poll_interval():
    assert policy.idle_sleep(10.0, **IDLE) == 0.5
    assert policy.idle_sleep(75.0, **IDLE) == 0.5


def test_idle_worker_never_sleeps_past_its_run():
    assert policy.idle_sleep(0.4, stay=75, poll=0.5, remaining=0.1) == 0.1


def test_idle_worker_ends_its_run_when_nothing_is_queued():
    assert policy.idle_sleep(None, **IDLE) is None


def test_idle_worker_ends_its_run_when_the_next_item_is_due_after_its_stay():
    assert policy.idle_sleep(75.1, **IDLE) is None


def test_idle_worker_ends_its_run_when_no_time_is_left():
    assert policy.idle_sleep(1.0, stay=75, poll=0.5, remaining=0) is None


def test_idle_worker_without_a_stay_never_waits():
    assert policy.idle_sleep(1.0, stay=0, poll=0.5, remaining=10) is None
    assert policy.idle_sleep(0.0, stay=0, poll=0.5, remaining=10) is None


def test_an_item_due_but_held_by_another_worker_is_polled_briefly():
    assert policy.idle_sleep(0.0, **IDLE) == policy.BUSY_PAUSE
    assert policy.idle_sleep(-3.0, **IDLE) == policy.BUSY_PAUSE


@pytest.mark.parametrize("due, expected", [(0.0, 0.0), (-5.0, 0.0), (30.0, 0.0), (75.0, 0.0),
                                           (76.5, 1.5), (3600.0, 3525.0)])
def test_worker_started_a_lead_before_the_item_is_due(due, expected):
    assert policy.start_delay(due, 75) == pytest.approx(expected)

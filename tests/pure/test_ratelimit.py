"""Tests of bj_api_sync.engine.ratelimit: windows, decisions, headers, caller keys."""
import dataclasses
import hashlib

import pytest

from bj_api_sync.engine.ratelimit import (
    Decision,
    Window,
    caller_key,
    decide,
    headers,
    window_start,
    windows_for,
)

MINUTE = Window("minute", 60, 100)
HOUR = Window("hour", 3600, 1000)
HOUR_START = 1_699_999_200  # a multiple of 3600 (and of 60)
NOW = HOUR_START + 810.5  # 30.5 s into its minute, 810.5 s into its hour


def test_window_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MINUTE.limit = 5


@pytest.mark.parametrize("now,size,expected", [
    (0, 60, 0), (59.999, 60, 0), (60, 60, 60), (125.7, 60, 120),
    (NOW, 60, HOUR_START + 780), (NOW, 3600, HOUR_START),
    (7199, 3600, 3600), (7200, 3600, 7200),
])
def test_window_start(now, size, expected):
    assert window_start(now, size) == expected
    assert isinstance(window_start(now, size), int)


def test_window_start_floor_property():
    for now in (NOW, 12345.678, 3599.99):
        for size in (60, 3600):
            start = window_start(now, size)
            assert start % size == 0
            assert start <= now < start + size


def test_windows_for():
    assert windows_for(100, 1000) == [Window("minute", 60, 100), Window("hour", 3600, 1000)]
    assert windows_for(0, 1000) == [Window("hour", 3600, 1000)]
    assert windows_for(100, 0) == [Window("minute", 60, 100)]
    assert windows_for(0, 0) == []
    assert windows_for(-1, None) == []


def test_decide_allowed_reports_most_constraining_window():
    # minute: 10/100 used (90 left); hour: 950/1000 used (50 left) -> hour binds
    decision = decide({"minute": 10, "hour": 950}, [MINUTE, HOUR], NOW)
    hour_reset = window_start(NOW, 3600) + 3600
    assert decision == Decision(True, 1000, 50, hour_reset, None)


def test_decide_allowed_minute_binds():
    decision = decide({"minute": 99, "hour": 100}, [MINUTE, HOUR], NOW)
    assert decision == Decision(True, 100, 1, window_start(NOW, 60) + 60, None)


def test_decide_tie_goes_to_longer_window():
    decision = decide({"minute": 90, "hour": 990}, [MINUTE, HOUR], NOW)
    assert decision.limit == 1000
    assert decision.remaining == 10
    assert decision.reset == window_start(NOW, 3600) + 3600


def test_decide_exactly_at_limit_is_allowed():
    decision = decide({"minute": 100, "hour": 100}, [MINUTE, HOUR], NOW)
    assert decision.allowed is True
    assert decision.remaining == 0
    assert decision.limit == 100


def test_decide_blocked_by_minute():
    decision = decide({"minute": 101, "hour": 200}, [MINUTE, HOUR], NOW)
    reset = window_start(NOW, 60) + 60
    assert decision == Decision(False, 100, 0, reset, 30)  # ceil(60 - 30.5) == 30


def test_decide_blocked_by_hour():
    decision = decide({"minute": 5, "hour": 1001}, [MINUTE, HOUR], NOW)
    reset = window_start(NOW, 3600) + 3600
    assert decision.allowed is False
    assert decision.limit == 1000
    assert decision.remaining == 0
    assert decision.reset == reset
    assert decision.retry_after == 2790  # ceil(3600 - 810.5)


def test_decide_blocked_by_both_waits_for_the_longest():
    decision = decide({"minute": 500, "hour": 5000}, [MINUTE, HOUR], NOW)
    assert decision.limit == 1000
    assert decision.retry_after == 2790


def test_decide_retry_after_at_least_one():
    now = 119.9999
    decision = decide({"minute": 101}, [MINUTE], now)
    assert decision.retry_after == 1
    decision = decide({"minute": 101}, [MINUTE], 60.0)
    assert decision.retry_after == 60


def test_decide_missing_count_means_zero():
    decision = decide({}, [MINUTE], NOW)
    assert decision.allowed is True
    assert decision.remaining == 100


def test_decide_no_windows():
    decision = decide({"minute": 10**9}, [], NOW)
    assert decision == Decision(True, 0, 0, 0, None)
    assert headers(decision) == {}


def test_headers_allowed():
    decision = decide({"minute": 10, "hour": 950}, [MINUTE, HOUR], NOW)
    assert headers(decision) == {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "50",
        "X-RateLimit-Reset": str(window_start(NOW, 3600) + 3600),
    }


def test_headers_blocked():
    decision = decide({"minute": 101}, [MINUTE], NOW)
    assert headers(decision) == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(window_start(NOW, 60) + 60),
        "Retry-After": "30",
    }


def test_headers_remaining_never_negative():
    assert headers(Decision(True, 10, -3, 99))["X-RateLimit-Remaining"] == "0"


def test_headers_blocked_without_retry_after_still_sends_one():
    assert headers(Decision(False, 10, 0, 99, None))["Retry-After"] == "1"


API_KEY = "0123456789abcdef0123456789abcdef01234567"


def test_caller_key_api_key_is_hashed():
    result = caller_key("key", API_KEY)
    assert result == "key:" + hashlib.sha256(API_KEY.encode()).hexdigest()[:32]
    assert API_KEY not in result


def test_caller_key_api_key_as_bytes_is_the_same_caller():
    assert caller_key("key", API_KEY.encode()) == caller_key("key", API_KEY)


def test_caller_key_other_api_key_is_another_caller():
    assert caller_key("key", "other") != caller_key("key", API_KEY)


def test_caller_key_user_id_as_int_or_text():
    assert caller_key("user", 7) == "user:7"
    assert caller_key("user", "7") == "user:7"


def test_caller_key_ip_is_normalised():
    assert caller_key("ip", "10.0.0.1") == "ip:10.0.0.1"
    assert caller_key("ip", "2001:DB8:0:0::1") == "ip:2001:db8::1"
    assert caller_key("ip", "::ffff:10.0.0.1") == caller_key("ip", "::FFFF:0a00:1")


@pytest.mark.parametrize("kind,ident", [
    ("key", ""), ("key", None), ("user", None), ("user", 0), ("user", -1), ("user", True),
    ("user", "abc"), ("user", 1.5), ("ip", "not-an-ip"), ("ip", ""), ("ip", "10.0.0.1; x"),
    ("session", "x"),
])
def test_caller_key_rejects(kind, ident):
    with pytest.raises(ValueError):
        caller_key(kind, ident)

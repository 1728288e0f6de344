import pytest

import module as m


def full_bucket(capacity=5, rate=2.0, now=0.0):
    return m.TokenBucket(capacity, rate, tokens=float(capacity), updated=now)


def test_bucket_starts_empty_by_default():
    bucket = m.TokenBucket(3, 1.0)
    assert bucket.tokens == 0.0
    assert bucket.allow(0.0) is False
    assert bucket.allow(1.0) is True


def test_bucket_allows_until_empty():
    bucket = full_bucket(capacity=3)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.tokens == 0.0


def test_bucket_exact_cost_boundary():
    bucket = full_bucket(capacity=5)
    assert bucket.allow(0.0, cost=5) is True
    assert bucket.tokens == 0.0
    bucket = full_bucket(capacity=5)
    assert bucket.allow(0.0, cost=6) is False
    assert bucket.tokens == 5.0


def test_bucket_refill_rate_and_cap():
    bucket = m.TokenBucket(10, 2.0, tokens=0.0, updated=100.0)
    bucket.refill(101.5)
    assert bucket.tokens == 3.0
    assert bucket.updated == 101.5
    bucket.refill(200.0)
    assert bucket.tokens == 10.0


def test_bucket_refill_ignores_clock_going_backwards():
    bucket = m.TokenBucket(10, 2.0, tokens=4.0, updated=100.0)
    bucket.refill(90.0)
    assert bucket.tokens == 4.0
    assert bucket.updated == 90.0


def test_bucket_refill_partial_tokens():
    bucket = m.TokenBucket(5, 0.5, tokens=0.0, updated=0.0)
    assert bucket.allow(1.0) is False
    assert bucket.tokens == 0.5
    assert bucket.allow(2.0) is True
    assert bucket.tokens == 0.0


def test_wait_time():
    bucket = m.TokenBucket(10, 4.0, tokens=1.0, updated=0.0)
    assert bucket.wait_time(0.0) == 0.0
    assert bucket.wait_time(0.0, cost=3) == 0.5
    assert bucket.wait_time(0.0, cost=2) == 0.25
    assert bucket.wait_time(0.25, cost=2) == 0.0


def test_wait_time_fractional_rate():
    bucket = m.TokenBucket(10, 3.0, tokens=0.0, updated=0.0)
    assert bucket.wait_time(0.0, cost=1) == pytest.approx(1 / 3)
    assert bucket.wait_time(0.0, cost=2) == pytest.approx(2 / 3)


def test_sliding_window_limit_per_key():
    lim = m.SlidingWindowLimiter(3, 10.0)
    assert [lim.allow("a", t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert lim.allow("b", 3.0) is True
    assert lim.remaining("a", 3.0) == 0
    assert lim.remaining("b", 3.0) == 2
    assert lim.remaining("c", 3.0) == 3


def test_sliding_window_expiry_is_exactly_window():
    lim = m.SlidingWindowLimiter(2, 10.0)
    lim.allow("a", 0.0)
    lim.allow("a", 4.0)
    assert lim.allow("a", 9.999) is False
    assert lim.allow("a", 10.0) is True
    assert list(lim.events["a"]) == [4.0, 10.0]
    assert lim.remaining("a", 14.0) == 1


def test_sliding_window_rejected_events_not_recorded():
    lim = m.SlidingWindowLimiter(1, 5.0)
    assert lim.allow("a", 0.0) is True
    assert lim.allow("a", 1.0) is False
    assert lim.allow("a", 2.0) is False
    assert list(lim.events["a"]) == [0.0]
    assert lim.allow("a", 5.0) is True


def test_retry_after():
    lim = m.SlidingWindowLimiter(2, 60.0)
    assert lim.retry_after("a", 0.0) == 0.0
    lim.allow("a", 10.0)
    assert lim.retry_after("a", 11.0) == 0.0
    lim.allow("a", 20.0)
    assert lim.retry_after("a", 30.0) == 40.0
    assert lim.retry_after("a", 69.5) == 0.5
    assert lim.retry_after("a", 70.0) == 0.0


def test_parse_limit():
    assert m.parse_limit("100/minute") == (100, 60)
    assert m.parse_limit(" 5/second ") == (5, 1)
    assert m.parse_limit("1/hour") == (1, 3600)
    assert m.parse_limit("20000/day") == (20000, 86400)


def test_parse_limit_rejects_bad_specs():
    for spec in ("0/minute", "-1/minute", "10/week", "10", "10/"):
        with pytest.raises(ValueError):
            m.parse_limit(spec)


def test_count_allowed_fixed_windows():
    # window 10: slots [0,10) [10,20) [20,30)
    stamps = [0, 1, 2, 9.9, 10, 10.5, 19, 25]
    assert m.count_allowed(stamps, 2, 10) == 5
    assert m.count_allowed(stamps, 3, 10) == 7
    assert m.count_allowed(stamps, 1, 10) == 3
    assert m.count_allowed(stamps, 2, 20) == 3
    assert m.count_allowed([], 2, 10) == 0


def test_count_allowed_limit_exact():
    assert m.count_allowed([0, 1, 2], 3, 60) == 3
    assert m.count_allowed([0, 1, 2, 3], 3, 60) == 3
    assert m.count_allowed([59, 60], 1, 60) == 2


def test_burst_sizes():
    assert m.burst_sizes([0, 1, 2, 10, 11, 30], 2) == [3, 2, 1]
    assert m.burst_sizes([0, 2, 4], 2) == [3]
    assert m.burst_sizes([0, 2.5, 5], 2) == [1, 1, 1]
    assert m.burst_sizes([7], 1) == [1]
    assert m.burst_sizes([], 1) == []


def test_burst_sizes_first_and_last_events():
    assert m.burst_sizes([0, 10, 11], 1) == [1, 2]
    assert m.burst_sizes([0, 1, 10], 1) == [2, 1]


def test_blocked_keys():
    lim = m.SlidingWindowLimiter(2, 10.0)
    for key, n in (("a", 2), ("b", 1), ("c", 3)):
        for i in range(n):
            lim.allow(key, float(i))
    assert m.blocked_keys(lim, ["a", "b", "c", "d"], 5.0) == ["a", "c"]
    assert m.blocked_keys(lim, ["a", "b", "c"], 10.5) == []


def test_blocked_keys_appends_and_default_not_shared():
    lim = m.SlidingWindowLimiter(1, 10.0)
    lim.allow("a", 0.0)
    existing = ["z"]
    assert m.blocked_keys(lim, ["a"], 1.0, existing) is existing
    assert existing == ["z", "a"]
    first = m.blocked_keys(lim, ["a"], 1.0)
    second = m.blocked_keys(lim, ["a"], 1.0)
    assert first == ["a"] and second == ["a"]

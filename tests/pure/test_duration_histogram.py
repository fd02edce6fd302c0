"""The dashboard's duration histogram: buckets and percentiles within 5 %."""
import math
import random

import pytest

from bj_api_sync.engine import duration_histogram as dh


def exact_percentile(values, fraction):
    """PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    below, above = math.floor(rank), math.ceil(rank)
    return ordered[below] + (rank - below) * (ordered[above] - ordered[below])


def histogram(values):
    counts = {}
    for ms in values:
        bucket = dh.bucket_of(ms)
        counts[bucket] = counts.get(bucket, 0) + 1
    return counts


@pytest.mark.parametrize("ms", [1.0, 1.04, 1.05, 7.3, 99.9, 100.0, 1234.5, 299_999.0])
def test_a_duration_lies_within_its_bucket(ms):
    low, high = dh.bounds(dh.bucket_of(ms))
    assert low <= ms * (1 + 1e-9) and ms < high * (1 + 1e-9)
    assert high / low == pytest.approx(dh.BASE)


@pytest.mark.parametrize("ms", [None, -5, 0, 0.4, 0.999])
def test_under_a_millisecond_is_bucket_zero(ms):
    assert dh.bucket_of(ms) == 0
    assert dh.bounds(0) == (0.0, 1.0)


@pytest.mark.parametrize("ms", [math.inf, math.nan, 1e15])
def test_absurd_durations_go_to_the_last_bucket(ms):
    assert dh.bucket_of(ms) == dh.MAX_BUCKET


def test_empty_histogram_has_no_percentile():
    assert dh.percentile({}, 0.5) is None
    assert dh.percentile({3: 0}, 0.5) is None


def test_one_value_is_its_own_percentiles():
    counts = histogram([42.0])
    for fraction in (0.0, 0.5, 0.95, 1.0):
        assert dh.percentile(counts, fraction) == pytest.approx(42.0, rel=0.05)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("fraction", [0.5, 0.95, 0.99])
def test_percentiles_are_within_5_percent_of_the_exact_ones(seed, fraction):
    rng = random.Random(seed)
    size = rng.choice([2, 5, 17, 300, 5000])
    shape = seed % 3
    if shape == 0:
        values = [rng.uniform(1, 400) for _ in range(size)]
    elif shape == 1:
        values = [rng.lognormvariate(4, 1.2) + 1 for _ in range(size)]
    else:  # sparse: far apart values, interpolated across empty buckets
        values = [rng.choice([3, 40, 100, 2500, 30_000]) * rng.uniform(1, 1.01)
                  for _ in range(size)]
    exact = exact_percentile(values, fraction)
    assert dh.percentile(histogram(values), fraction) == pytest.approx(exact, rel=0.05)


def test_sql_aggregate_names_the_given_columns():
    sql = dh.percentile_sql("n7", "c7", "t7", 0.95)
    assert "0.95 * (t7 - 1)" in sql and "FILTER" in sql
    assert sql.count("(") == sql.count(")")

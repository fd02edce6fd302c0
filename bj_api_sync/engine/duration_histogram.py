"""Durations as a log-scale histogram: buckets 5 % wide, percentiles read from counts.

The delivery dashboard keeps, per configuration and hour, how many calls fell
in each duration bucket (see ``bj.api.log.rollup``), so p50 / p95 over a window
are read from a few thousand counts instead of sorting every log of the window.
Bucket 0 holds durations under 1 ms; bucket ``b >= 1`` holds
``[BASE**(b-1), BASE**b)`` ms, so a percentile read from the histogram is within
5 % of the exact one. PostgreSQL computes the same bucket with :data:`BUCKET_SQL`,
and this module's :func:`percentile` is the reference the SQL is tested against.
"""
import math

BASE = 1.05
# 1.05 ** 400 ms is about 3.4 days: no call lasts longer.
MAX_BUCKET = 400
# Past this (or infinite, or NaN), a duration goes in the last bucket: the
# logarithm of infinity has no integer floor.
HUGE_MS = 1e12

# The SQL twin of bucket_of(): an IMMUTABLE function, so it can be used in
# triggers and indexes. Floating point rounding at an exact bucket boundary may
# put a duration in the neighbouring bucket, which is within the 5 % anyway.
BUCKET_SQL = f"""
CREATE OR REPLACE FUNCTION bj_api_duration_bucket(ms double precision)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN ms IS NULL OR ms < 1 THEN 0
                -- PostgreSQL sorts NaN above every number, so it lands here too
                WHEN ms >= {HUGE_MS} THEN {MAX_BUCKET}
                ELSE LEAST(1 + floor(ln(ms) / ln({BASE}))::integer, {MAX_BUCKET}) END
$$
"""


def bucket_of(ms) -> int:
    """Return the bucket of a duration in milliseconds (None counts as 0 ms)."""
    if ms is None or ms < 1:
        return 0
    if not ms < HUGE_MS:  # infinity and NaN too
        return MAX_BUCKET
    return min(1 + math.floor(math.log(ms) / math.log(BASE)), MAX_BUCKET)


def bounds(bucket: int) -> tuple[float, float]:
    """Return the ``(low, high)`` milliseconds a bucket covers."""
    if bucket <= 0:
        return 0.0, 1.0
    return BASE ** (bucket - 1), BASE**bucket


def _value_at(counts: dict, position: int):
    """Estimate the ``position``-th smallest duration (0-based) of a histogram:
    spread evenly over its bucket, so within 5 % of the real one."""
    before = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if count > 0 and before + count > position:
            low, high = bounds(bucket)
            return low + (high - low) * (position - before + 0.5) / count
        before += count
    return bounds(max(counts))[1]


def percentile(counts: dict, fraction: float):
    """Return the ``fraction`` percentile (0.5 for p50) of a histogram, or None if empty.

    It is PostgreSQL's ``percentile_cont`` (interpolated between the two
    durations around rank ``fraction * (n - 1)``) applied to the estimated
    durations, so it is within 5 % (or 1 ms) of the exact percentile.
    """
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = fraction * (total - 1)
    below, above = math.floor(rank), math.ceil(rank)
    low = _value_at(counts, below)
    return low + (rank - below) * (_value_at(counts, above) - low)


def percentile_sql(count: str, running: str, total: str, fraction: float) -> str:
    """Return the SQL aggregate that :func:`percentile` is, over histogram rows.

    The rows of one group are buckets (column ``bucket``) with their ``count``,
    the ``running`` total up to and including them, and the group's ``total``
    (window sums, all three column names). The expression is an aggregate.
    """
    rank = f"({fraction} * ({total} - 1))"
    low = f"(CASE WHEN bucket <= 0 THEN 0 ELSE power({BASE}, bucket - 1) END)"
    high = f"(CASE WHEN bucket <= 0 THEN 1 ELSE power({BASE}, bucket) END)"

    def value_at(position):
        before = f"({running} - {count})"
        value = f"{low} + ({high} - {low}) * ({position} - {before} + 0.5) / {count}"
        # One bucket holds the position: max() picks it without sorting.
        return (f"max({value}) FILTER (WHERE {count} > 0 "
                f"AND {before} <= {position} AND {running} > {position})")

    below, above = f"floor({rank})", f"ceil({rank})"
    # The total is the same on every row of the group: max() names it outside
    # the aggregates.
    step = f"(max({rank}) - floor(max({rank})))"
    return f"({value_at(below)} + {step} * ({value_at(above)} - {value_at(below)}))"

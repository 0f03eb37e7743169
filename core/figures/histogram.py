"""Histograms of durations, kept per day so that any longer period's median and p90 are exact to a bucket.

Seconds go into buckets of 1 s below a minute, 5 s below 5 minutes, 30 s below 30 minutes, 5 minutes below
2 hours, and one bucket for 2 hours and more; days (lead time) into buckets of one day up to a year. A bucket
is named by its lower bound. Percentiles use the nearest-rank definition: the value of the sample of rank
ceil(p * n) in order, reported as its bucket's lower bound (exact for whole seconds under a minute and for days).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

MAX_SECONDS = 7200
MAX_DAYS = 365


def seconds_bucket(seconds: float) -> int:
    s = max(0, int(seconds))
    if s < 60:
        return s
    if s < 300:
        return s - s % 5
    if s < 1800:
        return s - s % 30
    if s < MAX_SECONDS:
        return s - s % 300
    return MAX_SECONDS


def days_bucket(days: int) -> int:
    return min(max(0, days), MAX_DAYS)


def histogram(samples: Iterable[float], bucket=seconds_bucket) -> Counter[int]:
    return Counter(bucket(s) for s in samples)


def percentile(counts: Mapping[int, int], p: float) -> int | None:
    """The nearest-rank ``p`` percentile (0 < p <= 1) of a histogram; None when it is empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return bucket
    return max(counts)

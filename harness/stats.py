"""Statistics for 0/1 scores: confidence intervals, paired differences, exact McNemar, power.

All pure Python (math only). References: Miller, "Adding Error Bars to Evals" (arXiv:2411.00640)
for the paired standard error; the exact McNemar test is a two-sided binomial test on the
discordant pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


def z_value(confidence: float = 0.95) -> float:
    """Two-sided normal quantile, e.g. 1.96 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n`` (``(0, 1)`` when n == 0)."""
    if n <= 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-problem values in [0, 1] and its normal interval: ``(mean, low, high)``.

    The SE is ``sqrt(Var / n)`` over the values (sample variance, n - 1), the interval clipped to [0, 1].
    Used for per-problem means of several samples (avg@k) and per-problem pass@k estimates.

    Raises:
        ValueError: no values.
    """
    n = len(values)
    if n == 0:
        raise ValueError("a mean needs at least one value")
    mean = math.fsum(values) / n  # fsum: the same figure whatever order the values come in
    var = math.fsum((m - mean) ** 2 for m in values) / (n - 1) if n > 1 else 0.0
    half = z_value(confidence) * math.sqrt(var / n)
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def clustered_accuracy(per_question: Sequence[Sequence[float]], confidence: float = 0.95) -> tuple[float, float, float]:
    """Accuracy of per-question 0/1 sample scores and its interval: ``(acc, low, high)``.

    One sample per question: the Wilson interval on k of n. Several: the mean of per-question means
    with a normal interval whose SE comes from the per-question means (clustered by question, so
    samples of one question are not counted as independent evidence).

    Raises:
        ValueError: no questions (an empty group has no accuracy; callers report None).
    """
    if not per_question:
        raise ValueError("an accuracy needs at least one question")
    means = [math.fsum(q) / len(q) for q in per_question]
    if all(len(q) == 1 for q in per_question):
        lo, hi = wilson_interval(round(math.fsum(means)), len(means), confidence)
        return math.fsum(means) / len(means), lo, hi
    return mean_interval(means, confidence)


def standard_error(p: float, n: int) -> float:
    """SE of a mean of n 0/1 scores with mean p."""
    return math.sqrt(p * (1 - p) / n) if n > 0 else float("nan")


@dataclass(frozen=True)
class PairedDiff:
    """Candidate minus baseline on the same problems."""

    n: int
    acc_a: float  # baseline
    acc_b: float  # candidate
    diff: float  # acc_b - acc_a
    se: float
    ci_low: float
    ci_high: float
    b: int  # baseline right, candidate wrong (with several samples: baseline's mean higher)
    c: int  # baseline wrong, candidate right (with several samples: candidate's mean higher)
    p_value: float  # exact McNemar, two-sided


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedDiff:
    """Paired comparison of per-question scores ``a`` (baseline) and ``b`` (candidate).

    SE_diff = sqrt(Var(d) / n) with d_i = b_i - a_i (sample variance, n - 1). Scores may be per-question
    means of several samples: ``b``/``c`` then count questions where the baseline/candidate scored higher
    and the p-value is the exact sign test on them (for 0/1 scores this is exactly McNemar).
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores need equal lengths, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        raise ValueError("paired scores need at least one question")
    d = [float(y) - float(x) for x, y in zip(a, b)]
    mean = math.fsum(d) / n
    var = math.fsum((x - mean) ** 2 for x in d) / (n - 1) if n > 1 else 0.0
    se = math.sqrt(var / n)
    z = z_value(confidence)
    bb = sum(1 for x, y in zip(a, b) if x > y)
    cc = sum(1 for x, y in zip(a, b) if x < y)
    return PairedDiff(
        n=n,
        acc_a=math.fsum(map(float, a)) / n,
        acc_b=math.fsum(map(float, b)) / n,
        diff=mean,
        se=se,
        ci_low=max(-1.0, mean - z * se),  # a difference of 0/1 means lies in [-1, 1]
        ci_high=min(1.0, mean + z * se),
        b=bb,
        c=cc,
        p_value=mcnemar_exact(bb, cc),
    )


def _binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exact in log space (stable for large n)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    m = max(logs)
    return math.exp(m) * sum(math.exp(x - m) for x in logs)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: 2 * BinomCDF(min(b, c); b + c, 1/2), capped at 1."""
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * _binom_cdf_half(min(b, c), n))


def minimum_detectable_difference(
    n: int, var_d: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest true paired difference detectable with the given power:
    delta = (z_{1-alpha/2} + z_{power}) * sqrt(Var(d) / n)."""
    if n <= 0:
        return float("inf")
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * math.sqrt(var_d / n)


def required_sample_size(delta: float, var_d: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """n = (z_{1-a/2} + z_{1-b})^2 * Var(d) / delta^2."""
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return math.ceil(z * z * var_d / (delta * delta))

"""The count models behind comparisons and checks: quasi-Poisson GLMs and Benjamini–Hochberg.

Weekly report counts are over-dispersed (their variance exceeds their mean),
so a plain Poisson model gives intervals that are too narrow. A quasi-Poisson
GLM (``statsmodels``, log link, scale from Pearson's chi-squared) keeps the
Poisson mean model and widens every standard error by the square root of the
estimated dispersion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import statsmodels.api as sm
from scipy import stats as scipy_stats
from threadpoolctl import threadpool_limits

Z95 = 1.959963984540054
SEASONAL_MIN_WEEKS = 104
"""A yearly term is fitted only when the weeks used span two years or more."""


def yearly_terms(weeks: Sequence[date]) -> np.ndarray:
    """One yearly harmonic (sine and cosine of the day of the year) per week."""
    angle = np.array([2 * math.pi * (w.timetuple().tm_yday + 3) / 365.25 for w in weeks])
    return np.column_stack([np.sin(angle), np.cos(angle)])


def spans_a_year(weeks: Sequence[date]) -> bool:
    """Whether the weeks reach across a whole year (with a trend, enough for a yearly term)."""
    return bool(weeks) and (weeks[-1].toordinal() - weeks[0].toordinal()) >= 7 * 52


def spans_two_years(weeks: Sequence[date]) -> bool:
    return bool(weeks) and (weeks[-1].toordinal() - weeks[0].toordinal()) >= 7 * (
        SEASONAL_MIN_WEEKS - 1
    )


@dataclass(frozen=True)
class QuasiPoissonFit:
    """Coefficients, their standard errors (scaled), and the dispersion."""

    params: np.ndarray
    bse: np.ndarray
    dispersion: float
    df_resid: float
    covariance: np.ndarray


def fit_quasi_poisson(counts: Sequence[int], design: np.ndarray) -> QuasiPoissonFit:
    """Fit ``log E[count] = design @ beta``; the dispersion is at least 1.

    The fit runs with one BLAS thread: its matrices are small, and on a busy
    machine OpenBLAS's threads wait on each other (on two shared cores, a
    pooled comparison took 21.6 s with two threads and 3.0 s with one).
    """
    y = np.asarray(counts, dtype=float)
    with threadpool_limits(limits=1, user_api="blas"):
        model = sm.GLM(y, design, family=sm.families.Poisson())
        result = model.fit()
        df_resid = max(float(result.df_resid), 1.0)
        mu = result.fittedvalues
        pearson = float(np.sum((y - mu) ** 2 / np.maximum(mu, 1e-9)))
        dispersion = max(pearson / df_resid, 1.0)
        covariance = np.asarray(result.cov_params()) * dispersion
    return QuasiPoissonFit(
        params=np.asarray(result.params),
        bse=np.sqrt(np.diag(covariance)),
        dispersion=dispersion,
        df_resid=df_resid,
        covariance=covariance,
    )


def rate_ratio(fit: QuasiPoissonFit, index: int) -> tuple[float, float, float, float]:
    """``exp(beta)``, its 95 % interval and the two-sided p-value (t on the residual df)."""
    beta, se = float(fit.params[index]), float(fit.bse[index])
    t_quantile = float(scipy_stats.t.ppf(0.975, fit.df_resid))
    p_value = float(2 * scipy_stats.t.sf(abs(beta / se), fit.df_resid)) if se > 0 else 1.0
    return (
        math.exp(beta),
        math.exp(beta - t_quantile * se),
        math.exp(beta + t_quantile * se),
        p_value,
    )


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Adjusted p-values (q-values) that control the false discovery rate."""
    n = len(p_values)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: p_values[i])
    adjusted = [0.0] * n
    running = 1.0
    for rank in range(n, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * n / rank)
        adjusted[i] = min(running, 1.0)
    return adjusted


def count_band(mean: float, dispersion: float, level: float = 0.99) -> tuple[float, float]:
    """The central ``level`` range of a count with this mean and variance ``dispersion × mean``."""
    low_q, high_q = (1 - level) / 2, 1 - (1 - level) / 2
    if mean <= 0:
        return 0.0, 0.0
    if dispersion <= 1.0001:
        return float(scipy_stats.poisson.ppf(low_q, mean)), float(
            scipy_stats.poisson.ppf(high_q, mean)
        )
    n, p = _negative_binomial(mean, dispersion)
    return float(scipy_stats.nbinom.ppf(low_q, n, p)), float(scipy_stats.nbinom.ppf(high_q, n, p))


def count_tail_p(observed: int, mean: float, dispersion: float) -> float:
    """Two-sided p-value of ``observed`` for a count with this mean and dispersion."""
    if mean <= 0:
        return 1.0 if observed == 0 else 0.0
    if dispersion <= 1.0001:
        low = float(scipy_stats.poisson.cdf(observed, mean))
        high = float(scipy_stats.poisson.sf(observed - 1, mean))
    else:
        n, p = _negative_binomial(mean, dispersion)
        low = float(scipy_stats.nbinom.cdf(observed, n, p))
        high = float(scipy_stats.nbinom.sf(observed - 1, n, p))
    return min(1.0, 2 * min(low, high))


def _negative_binomial(mean: float, dispersion: float) -> tuple[float, float]:
    # variance = dispersion * mean = mean + mean**2 / n  =>  n = mean / (dispersion - 1)
    n = mean / (dispersion - 1)
    return n, n / (n + mean)

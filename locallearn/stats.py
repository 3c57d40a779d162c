"""Statistics over seeds and over trials: the one place a reported interval is computed.

* :func:`summarize` — n, mean, sample standard deviation (ddof 1) and a 95 % confidence interval
  of the mean: Student's t (``method="t"``, the default for a handful of seeds) or a bootstrap
  (``method="bootstrap"``: scipy's BCa bootstrap of the mean, 10,000 resamples, seeded).
* :func:`wilson_interval` — the Wilson score interval of a proportion (accuracies over test
  trials), which keeps its coverage near 0 and 1 where the normal approximation fails.
* :func:`iqm` — the interquartile mean (mean of the middle 50 %), with a bootstrap interval;
  robust aggregate for RL scores (Agarwal et al. 2021, as in rliable).

* :func:`stratified_bootstrap`, :func:`probability_of_improvement` — rliable's aggregates
  (Agarwal et al. 2021) for a score matrix (runs x tasks): the interquartile mean over all runs and
  tasks with a percentile bootstrap that resamples runs within each task, and P(X > Y) averaged
  over tasks. Computed here because rliable 1.2's bootstrap cannot be seeded with the arch
  releases that install today (arch 7 ignores its generator argument, arch 8 rejects it), so its
  intervals would not regenerate; the point estimates are tested against rliable's.
* :func:`score_distribution`, :func:`score_distribution_band` — rliable's performance profile
  (the run-score distribution): for each threshold tau, the fraction of runs scoring above tau,
  averaged over tasks, with a band from the same stratified bootstrap.

With one value there is no spread: std and the interval are NaN, and the text says n=1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as _scipy

METHODS = ("t", "bootstrap")


@dataclass(frozen=True)
class Summary:
    """A sample summarised: its size, mean, sample std (ddof 1) and a confidence interval."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    method: str
    confidence: float = 0.95

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self, digits: int = 3) -> str:
        """'0.931 ± 0.012 [0.916, 0.946] (n=5)': mean ± sample std [interval] (n)."""
        if self.n == 0:
            return "—"
        f = f"{{:.{digits}f}}"
        if self.n == 1:
            return f"{f.format(self.mean)} (n=1)"
        return (
            f"{f.format(self.mean)} ± {f.format(self.std)} "
            f"[{f.format(self.low)}, {f.format(self.high)}] (n={self.n})"
        )


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError("statistics need finite values; got NaN or inf")
    return values


def summarize(values, confidence: float = 0.95, method: str = "t", seed: int = 0) -> Summary:
    """Mean, sample std (ddof 1) and a ``confidence`` interval of the mean of ``values``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    values = _finite(values)
    n = values.size
    if n == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, method, confidence)
    mean = float(values.mean())
    if n == 1:
        nan = float("nan")
        return Summary(1, mean, nan, nan, nan, method, confidence)
    std = float(values.std(ddof=1))
    if std == 0.0:
        return Summary(n, mean, 0.0, mean, mean, method, confidence)
    if method == "t":
        half = float(_scipy.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        low, high = _bootstrap(values, np.mean, confidence, seed)
    return Summary(n, mean, std, float(low), float(high), method, confidence)


def _bootstrap(values: np.ndarray, statistic, confidence: float, seed: int) -> tuple[float, float]:
    """BCa interval; the percentile one where BCa degenerates (tiny samples)."""
    for method in ("BCa", "percentile"):
        result = _scipy.bootstrap(
            (values,),
            statistic,
            confidence_level=confidence,
            n_resamples=10_000,
            method=method,
            random_state=np.random.default_rng(seed),
        )
        low, high = result.confidence_interval
        if math.isfinite(low) and math.isfinite(high):
            break
    return float(low), float(high)


def median_ratio_interval(numerator, denominator, rng: np.random.Generator, n: int = 10_000) -> list[float]:
    """95 % percentile-bootstrap interval of median(numerator) / median(denominator), each
    sample resampled on its own (repeated timings of two systems: the interval of a speed-up)."""
    a, b = np.asarray(numerator, float), np.asarray(denominator, float)
    if a.size == 0 or b.size == 0:
        raise ValueError("median_ratio_interval needs at least one value on each side")
    ratios = [np.median(rng.choice(a, a.size)) / np.median(rng.choice(b, b.size)) for _ in range(n)]
    return [float(v) for v in np.percentile(ratios, [2.5, 97.5])]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    z = float(_scipy.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _interquartile_mean(values, axis=-1):
    return _scipy.trim_mean(values, 0.25, axis=axis)


def iqm(values, confidence: float = 0.95, seed: int = 0) -> Summary:
    """Interquartile mean with a bootstrap interval (std is the sample std of all values)."""
    values = _finite(values)
    n = values.size
    nan = float("nan")
    if n == 0:
        return Summary(0, nan, nan, nan, nan, "bootstrap", confidence)
    centre = float(_interquartile_mean(values))
    if n == 1:
        return Summary(1, centre, nan, nan, nan, "bootstrap", confidence)
    std = float(values.std(ddof=1))
    if std == 0.0:
        return Summary(n, centre, 0.0, centre, centre, "bootstrap", confidence)
    low, high = _bootstrap(values, _interquartile_mean, confidence, seed)
    return Summary(n, centre, std, low, high, "bootstrap", confidence)


def proportion(scores, confidence: float = 0.95) -> Summary:
    """Per-trial 0/1 scores summarised with the Wilson interval (method "wilson")."""
    scores = _finite(scores)
    if not np.all((scores == 0) | (scores == 1)):
        raise ValueError("proportion() needs 0/1 scores")
    n = scores.size
    if n == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, "wilson", confidence)
    low, high = wilson_interval(int(scores.sum()), n, confidence)
    std = float(scores.std(ddof=1)) if n > 1 else float("nan")
    return Summary(n, float(scores.mean()), std, low, high, "wilson", confidence)


def per_trial(scores, confidence: float = 0.95) -> Summary:
    """A metric averaged over trials: Wilson interval when every score is 0 or 1 (accuracy),
    else the t interval of the mean."""
    scores = _finite(scores)
    if scores.size and np.all((scores == 0) | (scores == 1)):
        return proportion(scores, confidence)
    return summarize(scores, confidence, "t")


def _matrix(scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores.reshape(-1, 1)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be (runs,) or (runs, tasks), got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("statistics need finite values; got NaN or inf")
    return scores


def interquartile_mean(scores) -> float:
    """IQM of every score of a (runs, tasks) matrix (rliable's ``aggregate_iqm``)."""
    return float(_interquartile_mean(_matrix(scores).ravel()))


def stratified_bootstrap(
    scores, statistic=interquartile_mean, confidence: float = 0.95, reps: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """(estimate, low, high): ``statistic`` of a (runs, tasks) matrix with a percentile interval
    from resampling runs with replacement within each task (rliable's stratified bootstrap)."""
    scores = _matrix(scores)
    rng = np.random.default_rng(seed)
    n_runs, n_tasks = scores.shape
    draws = np.empty(reps)
    for rep in range(reps):
        rows = rng.integers(0, n_runs, size=(n_runs, n_tasks))
        draws[rep] = statistic(np.take_along_axis(scores, rows, axis=0))
    low, high = np.percentile(draws, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(statistic(scores)), float(low), float(high)


def probability_of_improvement(x, y) -> float:
    """P(X > Y) + P(X = Y) / 2 for runs of X and of Y, averaged over tasks (the columns)."""
    x, y = _matrix(x), _matrix(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError("x and y need the same tasks (columns)")
    wins = (x[:, None, :] > y[None, :, :]) + 0.5 * (x[:, None, :] == y[None, :, :])
    return float(wins.mean(axis=(0, 1)).mean())


def improvement_interval(
    x, y, confidence: float = 0.95, reps: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """(estimate, low, high) of :func:`probability_of_improvement`, resampling the runs of X and of
    Y independently within each task."""
    x, y = _matrix(x), _matrix(y)
    rng = np.random.default_rng(seed)
    draws = np.empty(reps)
    for rep in range(reps):
        xs = np.take_along_axis(x, rng.integers(0, x.shape[0], size=x.shape), axis=0)
        ys = np.take_along_axis(y, rng.integers(0, y.shape[0], size=y.shape), axis=0)
        draws[rep] = probability_of_improvement(xs, ys)
    low, high = np.percentile(draws, [50 * (1 - confidence), 50 * (1 + confidence)])
    return probability_of_improvement(x, y), float(low), float(high)


def _per_task(scores) -> list[np.ndarray]:
    """A (runs, tasks) matrix, or one sequence of run scores per task (tasks may differ in runs)."""
    if isinstance(scores, np.ndarray):
        return list(_matrix(scores).T)
    tasks = [np.asarray(task, dtype=np.float64).ravel() for task in scores]
    if not tasks or any(task.size == 0 for task in tasks):
        raise ValueError("a score distribution needs at least one run in every task")
    if not all(np.all(np.isfinite(task)) for task in tasks):
        raise ValueError("statistics need finite values; got NaN or inf")
    return tasks


def score_distribution(scores, taus) -> np.ndarray:
    """The fraction of runs scoring above each ``tau``, averaged over tasks (rliable's
    ``score_distributions`` for a matrix; a task with fewer runs weighs as much as the others)."""
    taus = np.asarray(taus, dtype=np.float64)
    return np.mean([np.mean(task[:, None] > taus[None, :], axis=0) for task in _per_task(scores)], axis=0)


def score_distribution_band(
    scores, taus, confidence: float = 0.95, reps: int = 2_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profile, low, high) per tau: :func:`score_distribution` with a percentile band from
    resampling runs with replacement within each task."""
    tasks = _per_task(scores)
    rng = np.random.default_rng(seed)
    draws = np.empty((reps, np.size(taus)))
    for rep in range(reps):
        draws[rep] = score_distribution([task[rng.integers(0, task.size, task.size)] for task in tasks], taus)
    low, high = np.percentile(draws, [50 * (1 - confidence), 50 * (1 + confidence)], axis=0)
    return score_distribution(tasks, taus), low, high

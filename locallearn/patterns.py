"""Spike-pattern statistics through Elephant (extra ``[analysis]``), on the rasters this package
records: plain records in, plain records out, so a notebook can call them and a test can check
them against ground truth (issue 21).

* :func:`unitary_events` — Unitary Event analysis (Grün et al. 2002; ``elephant.
  unitary_event_analysis``): in sliding windows over repeated trials, the joint surprise of the
  coincidences of a group of neurons against the number expected from their rates (trial by
  trial, analytic); a window is significant where the surprise exceeds that of ``alpha``.
* :func:`cubic` — CuBIC (Staude et al. 2010; ``elephant.cubic``): from the population count
  histogram alone, the smallest order of correlation (``xi``) compatible with it — 1 for
  independent trains, >= k when k neurons fire together more than chance allows.

Rasters are (steps, neurons) 0/1 arrays (e.g. ``analysis.SpikeRecorder(...).dense()``) with the
step ``dt_ms``; trials are a list of such rasters of equal length.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import warnings
from dataclasses import dataclass

import numpy as np

from .analysis import raster_to_neo


def _elephant():
    try:
        import elephant  # noqa: F401
        import quantities as pq
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "pattern statistics need the [analysis] extra: pip install -e '.[analysis]'"
        ) from error
    return pq


@dataclass(frozen=True)
class UnitaryEvents:
    """Per analysis window (centre in ms): joint surprise, empirical and expected coincidence
    counts summed over trials, and whether the window is significant at ``alpha``."""

    centres_ms: np.ndarray
    surprise: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    significant: np.ndarray
    alpha: float
    neurons: tuple[int, ...]


def unitary_events(
    trials: list[np.ndarray],
    neurons: tuple[int, ...],
    dt_ms: float = 1.0,
    bin_ms: float = 5.0,
    window_ms: float = 100.0,
    step_ms: float = 5.0,
    alpha: float = 0.05,
) -> UnitaryEvents:
    """Unitary events of the group ``neurons`` (all of them spiking in one bin) over ``trials``."""
    pq = _elephant()
    from elephant import unitary_event_analysis as ue

    if len(neurons) < 2:
        raise ValueError("unitary events need a group of at least two neurons")
    lengths = {np.asarray(t).shape[0] for t in trials}
    if len(lengths) != 1:
        raise ValueError(f"all trials must have the same number of steps, got {sorted(lengths)}")
    spiketrains = [
        [raster_to_neo(np.asarray(t)[:, list(neurons)], dt_ms)[k] for k in range(len(neurons))]
        for t in trials
    ]
    pattern = ue.hash_from_pattern([1] * len(neurons))
    result = ue.jointJ_window_analysis(
        spiketrains,
        bin_size=bin_ms * pq.ms,
        win_size=window_ms * pq.ms,
        win_step=step_ms * pq.ms,
        pattern_hash=[pattern],
    )
    surprise = np.asarray(result["Js"], float).ravel()
    threshold = ue.jointJ(alpha)
    steps = len(surprise)
    centres = window_ms / 2 + step_ms * np.arange(steps)
    return UnitaryEvents(
        centres_ms=centres,
        surprise=surprise,
        observed=np.asarray(result["n_emp"], float).ravel(),
        expected=np.asarray(result["n_exp"], float).ravel(),
        significant=surprise > threshold,
        alpha=alpha,
        neurons=tuple(neurons),
    )


@dataclass(frozen=True)
class CubicResult:
    """The inferred lower bound ``xi`` on the order of correlation, and the p-value of each
    order tested (the test stops at the first order not rejected; none when the counts are
    under-dispersed, which gives xi = 1 without a test)."""

    xi: int
    p_values: list[float]


def cubic(raster: np.ndarray, dt_ms: float = 1.0, bin_ms: float = 1.0, alpha: float = 0.05) -> CubicResult:
    """CuBIC on the population spike count of ``raster`` in bins of ``bin_ms``."""
    pq = _elephant()
    import neo
    from elephant import cubic as elephant_cubic

    raster = np.asarray(raster)
    per_bin = max(1, int(round(bin_ms / dt_ms)))
    steps = raster.shape[0] // per_bin * per_bin
    counts = raster[:steps].sum(axis=1).reshape(-1, per_bin).sum(axis=1)
    histogram = neo.AnalogSignal(
        counts[:, None].astype(float) * pq.dimensionless, sampling_period=bin_ms * pq.ms
    )
    if counts.var() < counts.mean():
        # under-dispersed counts (independent Bernoulli bins are): CuBIC's null cannot be set up
        # (elephant refuses), and nothing in them asks for a correlation of order above 1
        return CubicResult(xi=1, p_values=[])
    xi, p_values, _, _ = elephant_cubic.cubic(histogram, alpha=alpha)
    return CubicResult(xi=int(xi), p_values=[float(p) for p in p_values])


def spike_contrast(raster: np.ndarray, dt_ms: float = 1.0) -> float:
    """Spike-contrast synchrony (Ciba et al. 2018; ``elephant.spike_train_synchrony``): 0 for
    independent trains, 1 for identical ones; computed over bin sizes from the whole raster
    down to 10 ms."""
    pq = _elephant()
    from elephant.spike_train_synchrony import spike_contrast as elephant_contrast

    trains = [t for t in raster_to_neo(np.asarray(raster), dt_ms) if len(t) > 0]
    if len(trains) < 2:
        raise ValueError("spike contrast needs at least two neurons that spike")
    duration = np.asarray(raster).shape[0] * dt_ms
    return float(elephant_contrast(trains, t_start=0 * pq.ms, t_stop=duration * pq.ms))


@dataclass(frozen=True)
class Pattern:
    """A spatio-temporal pattern: the neurons (columns of the raster) in it, the lag of each
    after the first in ms, how many times it occurred, and its p-value (from the surrogates)."""

    neurons: tuple[int, ...]
    lags_ms: tuple[float, ...]
    occurrences: int
    p_value: float | None


def spade(
    raster: np.ndarray,
    dt_ms: float = 1.0,
    bin_ms: float = 3.0,
    window_bins: int = 1,
    n_surrogates: int = 100,
    min_spikes: int = 2,
    min_occurrences: int = 3,
    dither_ms: float = 15.0,
    alpha: float = 0.05,
    correction: str = "fdr_bh",
    seed: int = 0,
    workers: int = 1,
    executor=None,
    memory_limit_gb: float | None = None,
) -> list[Pattern]:
    """SPADE (Torre et al. 2013, Stella et al. 2019; ``elephant.spade``, its compiled FIM
    backend when installed): repeated spatio-temporal patterns of at least ``min_spikes``
    neurons within ``window_bins`` bins, kept when their (size, occurrences) signature is
    significant against ``n_surrogates`` spike-dithered surrogates (``dither_ms``) after
    ``correction`` for multiple tests. ``seed`` fixes the surrogates.

    The surrogates are the cost. With ``workers`` > 1 (a process pool) or an ``executor`` (a
    Dask client's, say) they are drawn in ``workers`` shares, one job each (share k seeded ``seed + k``),
    and their maximal occurrence counts gathered into one p-value spectrum — what elephant's own
    MPI path does; with one share the result equals ``elephant.spade.spade`` exactly.

    The frequent-itemset mining can need more memory than the machine has on dense activity (a
    100-neuron network at 64 Hz exhausted 24 GB on 9 s). ``memory_limit_gb`` runs the whole
    analysis in a spawned child whose address space is capped there: the same result when it fits,
    :class:`PatternCostError` (and this process intact) when it does not."""
    if memory_limit_gb is not None:
        return _spade_bounded(
            raster, memory_limit_gb, dt_ms=dt_ms, bin_ms=bin_ms, window_bins=window_bins,
            n_surrogates=n_surrogates, min_spikes=min_spikes, min_occurrences=min_occurrences,
            dither_ms=dither_ms, alpha=alpha, correction=correction, seed=seed, workers=workers,
        )  # fmt: skip
    pq = _elephant()
    from elephant import spade as elephant_spade

    raster = np.asarray(raster)
    trains = raster_to_neo(raster, dt_ms)
    if workers > 1 or executor is not None:
        result = _spade_in_shares(
            raster, dt_ms, bin_ms, window_bins, n_surrogates, min_spikes, min_occurrences,
            dither_ms, alpha, correction, seed, workers, executor,
        )  # fmt: skip
    else:
        # elephant draws its surrogates from numpy's global generator: seeded here, then put back
        saved = np.random.get_state()
        np.random.seed(seed)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # its timings, its binning's last partial bin
            result = elephant_spade.spade(
                trains,
                bin_size=bin_ms * pq.ms,
                winlen=window_bins,
                min_spikes=min_spikes,
                min_occ=min_occurrences,
                n_surr=n_surrogates,
                dither=dither_ms * pq.ms,
                alpha=alpha,
                stat_corr=correction,
                psr_param=None,
                output_format="patterns",
            )
        np.random.set_state(saved)
    patterns = []
    for found in result["patterns"]:
        lags = tuple(float(lag) for lag in np.asarray(found["lags"].rescale("ms").magnitude))
        patterns.append(
            Pattern(
                neurons=tuple(int(n) for n in found["neurons"]),
                lags_ms=lags,
                occurrences=len(found["times"]),
                p_value=float(found["pvalue"]) if "pvalue" in found else None,
            )
        )
    return patterns


class PatternCostError(RuntimeError):
    """A pattern analysis did not fit in the memory it was given."""


def _limit_address_space(limit_bytes: int) -> None:
    """Pool initializer: cap this process's address space (allocations beyond it fail). What
    SPADE imports only at its significance test (statsmodels, pandas) is loaded first: loaded
    after the mining had filled the address space, its libraries could not be mapped (seen in
    the 5-seed study: an ImportError instead of a PatternCostError)."""
    import resource

    try:
        import statsmodels.stats.multitest  # noqa: F401
    except ModuleNotFoundError:
        pass  # elephant then fails on its own, with its own message
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def _spade_bounded(raster, memory_limit_gb: float, **options) -> list[Pattern]:
    """:func:`spade` in a spawned child capped at ``memory_limit_gb`` of address space."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if not memory_limit_gb > 0:
        raise ValueError(f"spade: memory_limit_gb must be > 0, got {memory_limit_gb!r}")
    raster = np.asarray(raster)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited
    limit = int(memory_limit_gb * 2**30)
    try:
        with ProcessPoolExecutor(
            1, mp_context=context, initializer=_limit_address_space, initargs=(limit,)
        ) as pool:
            return pool.submit(spade, raster, **options).result()
    except (MemoryError, BrokenProcessPool, ImportError) as error:
        if isinstance(error, ImportError) and "map" not in str(error):
            raise  # a missing module, not a full address space
        raise PatternCostError(
            f"SPADE needed more than {memory_limit_gb:g} GB on this raster ({int(raster.sum()):,} spikes "
            f"of {raster.shape[1]} neurons over {raster.shape[0]:,} steps): {type(error).__name__}"
        ) from None


def surrogate_max_occurrences(
    raster, dt_ms, bin_ms, window_bins, n_surrogates, min_spikes, min_occurrences, dither_ms, seed
) -> np.ndarray:
    """One share of SPADE's surrogates: for each surrogate, the largest occurrence count of every
    pattern size (elephant's ``max_occs`` rows). Runs in a worker."""
    pq = _elephant()
    from elephant import spade as elephant_spade

    trains = raster_to_neo(np.asarray(raster), dt_ms)
    max_spikes = len(trains) * window_bins
    rows = np.empty((n_surrogates, max_spikes - min_spikes + 1), np.uint16)
    saved = np.random.get_state()
    np.random.seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        surrogates = elephant_spade._generate_binned_surrogates(
            trains, bin_size=bin_ms * pq.ms, dither=dither_ms * pq.ms, surr_method="dither_spikes",
            n_surrogates=n_surrogates,
        )  # fmt: skip
        for index, binned in surrogates:
            found = elephant_spade.concepts_mining(
                binned, bin_ms * pq.ms, window_bins, min_spikes=min_spikes, max_spikes=max_spikes,
                min_occ=min_occurrences, report="#",
            )[0]  # fmt: skip
            rows[index] = elephant_spade._get_max_occ(found[:, :-1], min_spikes, max_spikes, window_bins, "#")
    np.random.set_state(saved)
    return rows


def _spade_in_shares(
    raster, dt_ms, bin_ms, window_bins, n_surrogates, min_spikes, min_occurrences, dither_ms, alpha,
    correction, seed, workers, executor,
) -> dict:  # fmt: skip
    """elephant's ``spade`` with its surrogates drawn in shares on a pool or an executor."""
    from concurrent.futures import ProcessPoolExecutor

    pq = _elephant()
    from elephant import spade as elephant_spade

    trains = raster_to_neo(raster, dt_ms)
    bin_size = bin_ms * pq.ms
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        concepts = elephant_spade.concepts_mining(
            trains, bin_size, window_bins, min_spikes=min_spikes, min_occ=min_occurrences, report="a"
        )[0]
    jobs = max(1, workers)
    shares = [n_surrogates // jobs + (k < n_surrogates % jobs) for k in range(jobs)]
    arguments = [
        (raster, dt_ms, bin_ms, window_bins, share, min_spikes, min_occurrences, dither_ms, seed + k)
        for k, share in enumerate(shares)
        if share
    ]
    if executor is not None:
        parts = [f.result() for f in [executor.submit(surrogate_max_occurrences, *a) for a in arguments]]
    elif len(arguments) > 1:
        # spawned, not forked: a child forked after the FIM library ran in this process hangs
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            parts = list(pool.map(surrogate_max_occurrences, *zip(*arguments)))
    else:
        parts = [surrogate_max_occurrences(*arguments[0])]
    max_spikes = len(trains) * window_bins
    spectrum = elephant_spade._get_pvalue_spec(
        np.vstack(parts), min_spikes, max_spikes, min_occurrences, n_surrogates, window_bins, "#"
    )
    rejected = []
    if len(spectrum) > 0 and alpha is not None:
        rejected = elephant_spade.test_signature_significance(
            spectrum, concepts, alpha, window_bins, corr=correction, report="non_significant", spectrum="#"
        )
    if len(rejected) > 0:
        concepts = [
            c for c in concepts if elephant_spade._pattern_spectrum_filter(c, rejected, "#", window_bins)
        ]
    patterns = elephant_spade.concept_output_to_patterns(
        concepts, window_bins, bin_size, spectrum, "#", trains[0].t_start
    )
    return {"patterns": patterns}


@dataclass(frozen=True)
class Assembly:
    """A cell assembly found by CAD: its neurons, the lag of each after the first (in bins),
    and the p-value of its last agglomeration step."""

    neurons: tuple[int, ...]
    lags_bins: tuple[int, ...]
    p_value: float
    occurrences: int


def cell_assemblies(
    raster: np.ndarray, dt_ms: float = 1.0, bin_ms: float = 5.0, max_lag: int = 2, alpha: float = 0.05
) -> list[Assembly]:
    """Cell-assembly detection (Russo & Durstewitz 2017; ``elephant.cell_assembly_detection``):
    groups of neurons whose binned activity co-occurs, at lags up to ``max_lag`` bins, more
    than their rates explain, grown pair by pair under a test at ``alpha`` (``max_lag`` >= 2;
    spikes in a last partial bin are left out)."""
    pq = _elephant()
    from elephant.cell_assembly_detection import cell_assembly_detection
    from elephant.conversion import BinnedSpikeTrain

    trains = raster_to_neo(np.asarray(raster), dt_ms)
    with warnings.catch_warnings():  # the spikes of a last partial bin are dropped: said above
        warnings.simplefilter("ignore", UserWarning)
        binned = BinnedSpikeTrain(trains, bin_size=bin_ms * pq.ms)
    found = cell_assembly_detection(binned, max_lag=max_lag, alpha=alpha, verbose=False)
    return [
        Assembly(
            neurons=tuple(int(n) for n in a["neurons"]),
            lags_bins=tuple(int(lag) for lag in a["lags"]),
            p_value=float(a["pvalue"][-1]),
            occurrences=int(np.sum(a["signature"][-1][1])) if len(a["signature"]) else 0,
        )
        for a in found
    ]

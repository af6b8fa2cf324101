"""Numbers from a run's records: per cell and phase summaries, speed-ups with bootstrap
intervals, and the warnings a careful reader needs.

Quartiles use linear interpolation between order statistics (the "inclusive" method of
``statistics.quantiles``, numpy's default), so the median of an even sample is the mean of the
middle two. Speed-up is the reference's median over the scenario's median (2.0 = twice as
fast), with a percentile bootstrap interval from resampling both samples, seeded so a report
rebuilt from the same records shows the same interval.

No interval comes from fewer than ``MIN_TRIALS`` trials on either side: a bootstrap of one or
two values only repeats them ("1.06-1.06x" from single trials), which reads as certainty.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.results import TrialRecord, latest_attempts
from bench.vocabulary import PHASES, REFERENCE_SCENARIO, Cell

UNSTABLE_IQR_RATIO = 0.10
MIN_TRIALS = 3  # no interval, verdict or significance from fewer successful trials a side
BUSY_THRESHOLD = 0.3  # a trial whose machine was busier than this (0-1) is flagged
SLOW_FIRST_RATIO = 1.5
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float
    mean: float
    stdev: float  # NaN with fewer than two values

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no values to summarize")
    ordered = sorted(values)
    return Summary(
        n=len(ordered),
        median=_quantile(ordered, 0.5),
        q1=_quantile(ordered, 0.25),
        q3=_quantile(ordered, 0.75),
        minimum=ordered[0],
        maximum=ordered[-1],
        mean=statistics.fmean(ordered),
        stdev=statistics.stdev(ordered) if len(ordered) > 1 else math.nan,
    )


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Interval:
    """A ratio of medians and its 95 % interval; no bounds from fewer than ``MIN_TRIALS``."""

    estimate: float
    low: float | None
    high: float | None
    n_reference: int = 0
    n_candidate: int = 0

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def n(self) -> int:
        """The smaller sample's size."""
        return min(self.n_reference, self.n_candidate)

    def why_unbounded(self) -> str:
        return (
            f"no interval from fewer than {MIN_TRIALS} trials "
            f"(n={self.n_reference} and {self.n_candidate})"
        )


def speedup(reference: Sequence[float], candidate: Sequence[float], seed: int = 0) -> Interval:
    """median(reference) / median(candidate), with a 95 % percentile bootstrap interval."""
    estimate = statistics.median(reference) / statistics.median(candidate)
    sizes = len(reference), len(candidate)
    if min(sizes) < MIN_TRIALS:
        return Interval(estimate, None, None, *sizes)
    rng = random.Random(seed)
    ratios = []
    median = statistics.median
    for _ in range(BOOTSTRAP_RESAMPLES):
        ref = rng.choices(reference, k=len(reference))
        cand = rng.choices(candidate, k=len(candidate))
        ratios.append(median(ref) / median(cand))
    ratios.sort()
    return Interval(estimate, _quantile(ratios, 0.025), _quantile(ratios, 0.975), *sizes)


@dataclass
class CellStats:
    """One scenario on one set in one state."""

    cell: Cell
    trials: int
    failed: int
    total: Summary | None  # seconds; None when every trial failed
    phases: dict[str, Summary] = field(default_factory=dict)
    archive_bytes: float | None = None  # median restored (or, cold, saved) archive size
    index_bytes: float | None = None  # median bytes downloaded from the package index
    first_trial_s: float | None = None
    busy_trials: int = 0  # trials whose machine_busy was over BUSY_THRESHOLD
    speedup: Interval | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Successful trials: the sample every median of this cell comes from."""
        return self.total.n if self.total is not None else 0

    @property
    def deps(self) -> str:
        return self.cell.deps

    @property
    def scenario(self) -> str:
        return self.cell.scenario

    @property
    def state(self) -> str:
        return self.cell.state


def cell_sort_key(cell: CellStats) -> tuple[str, str, int]:
    """Set, scenario, then states in their natural order (cold, warm, partial)."""
    return cell.cell.sort_key()


def successful_totals(
    records: Sequence[TrialRecord], phase: str | None = None
) -> dict[Cell, list[float]]:
    """Each cell's successful trials' totals (or one phase's times) in seconds, in run order."""
    totals: dict[Cell, list[float]] = {}
    for record in latest_attempts(records):
        if record.succeeded:
            value = record.total_s if phase is None else record.phase_s(phase)
            totals.setdefault(record.cell, []).append(value)
    return totals


def cell_stats(
    records: Sequence[TrialRecord], reference: str = REFERENCE_SCENARIO, seed: int = 0
) -> list[CellStats]:
    """Statistics per (set, scenario, state); speed-ups against ``reference`` cold on the set."""
    records = latest_attempts(records)
    groups: dict[Cell, list[TrialRecord]] = {}
    for record in records:
        groups.setdefault(record.cell, []).append(record)
    cells = [_one_cell(key, group) for key, group in sorted(groups.items())]
    totals = successful_totals(records)
    for cell in cells:
        base = totals.get(Cell(cell.deps, reference, "cold"))
        mine = totals.get(cell.cell)
        if base and mine:
            cell.speedup = speedup(base, mine, seed=seed)
    return cells


def _one_cell(key: Cell, group: list[TrialRecord]) -> CellStats:
    ok = sorted((r for r in group if r.succeeded), key=lambda r: r.order)
    cell = CellStats(key, trials=len(group), failed=len(group) - len(ok), total=None)
    if cell.failed:
        cell.warnings.append(f"{cell.failed} of {cell.trials} trials failed")
    if not ok:
        return cell
    seconds = [r.total_s for r in ok]
    cell.total = summarize(seconds)
    cell.phases = {p: summarize([r.phase_s(p) for r in ok]) for p in PHASES}
    archive = [r.restored_archive_bytes or r.saved_archive_bytes for r in ok]
    cell.archive_bytes = statistics.median(archive)
    cell.index_bytes = statistics.median(r.mirror_bytes for r in ok)
    cell.first_trial_s = seconds[0]
    cell.warnings += stability_warnings(seconds)
    busy = [r.machine_busy for r in ok if r.machine_busy is not None]
    cell.busy_trials = sum(b > BUSY_THRESHOLD for b in busy)
    if cell.busy_trials:
        cell.warnings.append(
            f"{cell.busy_trials} trial(s) ran on a busy machine (other processes used over "
            f"{BUSY_THRESHOLD:.0%} of the CPU; highest {max(busy):.0%})"
        )
    return cell


def stability_warnings(seconds_in_run_order: Sequence[float]) -> list[str]:
    """The warnings pyperf and hyperfine give, for one cell's totals in the order they ran."""
    warnings = []
    summary = summarize(seconds_in_run_order)
    if summary.n < MIN_TRIALS:
        warnings.append(
            f"only {summary.n} trial(s): no interval or verdict from fewer than {MIN_TRIALS}"
        )
    if summary.median > 0 and summary.iqr > UNSTABLE_IQR_RATIO * summary.median:
        share = summary.iqr / summary.median
        warnings.append(f"unstable: the IQR is {share:.0%} of the median")
    if summary.n >= MIN_TRIALS:
        rest = statistics.median(seconds_in_run_order[1:])
        first = seconds_in_run_order[0]
        if rest > 0 and first > SLOW_FIRST_RATIO * rest:
            warnings.append(
                f"the first trial ({first:.1f} s) was {first / rest:.1f}x the median of the rest"
            )
    return warnings

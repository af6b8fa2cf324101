"""When ``--reps auto`` stops: a pure rule over each cell's totals so far.

After at least ``MIN_ROUNDS`` rounds, a cell stops when

- **converged**: the 95 % bootstrap interval of its median lies within ±5 % of the median; or
- **ranking settled**: its set's ranking is settled, meaning that within one set and cache
  state, the fastest three cells by median total have separated 95 % intervals of their
  medians (first's upper bound below second's lower bound, second's below third's, and third's
  below the fourth's, if any), so more trials would not reorder the top three; or
- **budget**: the run's time budget is spent (checked by the caller before each trial); or
- **round limit**: ``MAX_ROUNDS`` rounds ran without either of the above; or
- **failing**: none of its trials succeeded (more would fail alike and spend the budget; it is
  left out of its set's ranking).

The intervals are seeded, so the same totals always give the same decision.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.vocabulary import Cell

MIN_ROUNDS = 3
DEFAULT_BUDGET_MIN = 45.0  # --budget's default with --reps auto (the default matrix's target)
MAX_ROUNDS = 20
PRECISION = 0.05  # ±5 % of the median
PODIUM = 3
RESAMPLES = 1000

CONVERGED = "converged"
SETTLED = "ranking settled"
BUDGET = "budget spent"
ROUND_LIMIT = "round limit"
FAILING = "every trial failed"


@dataclass(frozen=True)
class MedianInterval:
    median: float
    low: float
    high: float


def median_interval(values: Sequence[float], seed: int = 0) -> MedianInterval:
    """The median and its 95 % percentile bootstrap interval."""
    rng = random.Random(seed)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(RESAMPLES)
    )
    low = medians[int(0.025 * (RESAMPLES - 1))]
    high = medians[int(0.975 * (RESAMPLES - 1))]
    return MedianInterval(statistics.median(values), low, high)


def converged(values: Sequence[float], precision: float = PRECISION, seed: int = 0) -> bool:
    if len(values) < MIN_ROUNDS:
        return False
    interval = median_interval(values, seed)
    return (
        interval.median > 0
        and interval.low >= interval.median * (1 - precision)
        and interval.high <= interval.median * (1 + precision)
    )


def ranking_settled(totals: Mapping[Cell, Sequence[float]], seed: int = 0) -> bool:
    """Whether the fastest ``PODIUM`` cells (or all, if fewer) are separated from each other."""
    if any(len(values) < MIN_ROUNDS for values in totals.values()) or len(totals) < 2:
        return False
    intervals = sorted(
        (median_interval(values, seed) for values in totals.values()), key=lambda i: i.median
    )
    podium = intervals[: PODIUM + 1] if len(intervals) > PODIUM else intervals
    return all(a.high < b.low for a, b in itertools.pairwise(podium))


def stop_reasons(
    totals: Mapping[Cell, Sequence[float]], rounds: int, seed: int = 0
) -> dict[Cell, str | None]:
    """Why each cell stops after ``rounds`` rounds, or None for a cell that needs more trials.

    The ranking is judged per set and state (a warm cell is not ranked against a cold one).
    """
    if rounds < MIN_ROUNDS:
        return dict.fromkeys(totals)
    groups: dict[tuple[str, str], dict[Cell, Sequence[float]]] = {}
    for cell, values in totals.items():
        if values:
            groups.setdefault((cell.deps, cell.state), {})[cell] = values
    settled = {key for key, group in groups.items() if ranking_settled(group, seed)}
    reasons: dict[Cell, str | None] = {}
    for cell, values in totals.items():
        if not values:
            reasons[cell] = FAILING
        elif converged(values, seed=seed):
            reasons[cell] = CONVERGED
        elif (cell.deps, cell.state) in settled:
            reasons[cell] = SETTLED
        elif rounds >= MAX_ROUNDS:
            reasons[cell] = ROUND_LIMIT
        else:
            reasons[cell] = None
    return reasons

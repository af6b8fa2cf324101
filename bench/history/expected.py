"""Expected job time per run from a run folder: the replay's rates weight the run's medians.

``exact_rate * median(warm) + partial_rate * median(partial) + miss_rate * median(cold)`` per
strategy and dependency set, with a 95 % percentile bootstrap interval from resampling each
state's trials (seeded: the same records give the same interval), ``no-cache``'s cold median for
comparison, and the CI minutes per month at the history's own cadence.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import results
from bench.errors import BenchError
from bench.stats import BOOTSTRAP_RESAMPLES, MIN_TRIALS
from bench.vocabulary import REFERENCE_SCENARIO as REFERENCE

SECONDS_PER_MONTH = 30.44 * 86400
STATE_OF = {"exact": "warm", "partial": "partial", "miss": "cold"}


@dataclass
class RunTimes:
    """What a run folder says per (set, scenario): totals per state, and the saved archive."""

    totals: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    archive_bytes: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def sets(self) -> list[str]:
        return sorted({deps for deps, _, _ in self.totals})

    def has_scenario(self, scenario: str) -> bool:
        return any(s == scenario for _, s, _ in self.totals)


def read_run(run_dir: Path) -> RunTimes:
    # a retried trial (--retry-busy) counts by its last attempt
    records = results.latest_attempts(results.read_whole_trials(run_dir))
    if not records:
        raise BenchError(f"{run_dir} has no trials yet; give a run folder with records")
    times = RunTimes()
    archives: dict[tuple[str, str], list[int]] = {}
    for record in records:
        if not record.succeeded:
            continue
        cell = (record.deps, record.scenario, record.state)
        times.totals.setdefault(cell, []).append(record.total_ns / 1e9)
        if record.saved_archive_bytes > 0:
            archives.setdefault(cell[:2], []).append(record.saved_archive_bytes)
    times.archive_bytes = {k: int(statistics.median(v)) for k, v in archives.items()}
    return times


@dataclass(frozen=True)
class Expected:
    deps: str
    seconds: float | None  # None when a state that happens has no trials in the run
    low: float | None
    high: float | None
    reference_cold: float | None  # no-cache's cold median on the set
    minutes_per_month: float | None
    reference_minutes_per_month: float | None
    missing_states: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "deps": self.deps,
            "expected_s": _round(self.seconds),
            "interval_s": [_round(self.low), _round(self.high)],
            "no_cache_cold_s": _round(self.reference_cold),
            "ci_minutes_per_month": _round(self.minutes_per_month),
            "no_cache_minutes_per_month": _round(self.reference_minutes_per_month),
            "missing_states": list(self.missing_states),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def runs_per_month(runs: int, span_seconds: int) -> float | None:
    if runs < 2 or span_seconds <= 0:
        return None
    return runs / (span_seconds / SECONDS_PER_MONTH)


def expected_time(
    times: RunTimes,
    deps: str,
    scenario: str,
    rates: dict[str, float],
    cadence: float | None,
    seed: int = 0,
) -> Expected:
    """The weighted expectation for ``scenario`` on ``deps`` with the replay's ``rates``."""
    samples = {}
    missing = []
    for outcome, rate in rates.items():
        if rate <= 0:
            continue
        values = times.totals.get((deps, scenario, STATE_OF[outcome]))
        if values:
            samples[outcome] = values
        else:
            missing.append(STATE_OF[outcome])
    base = times.totals.get((deps, REFERENCE, "cold"))
    reference = statistics.median(base) if base else None
    ref_month = reference * cadence / 60 if reference is not None and cadence else None
    if missing or not samples:
        return Expected(deps, None, None, None, reference, None, ref_month, tuple(missing))
    estimate = _weighted(rates, {o: statistics.median(v) for o, v in samples.items()})
    month = estimate * cadence / 60 if cadence else None
    if min(len(v) for v in samples.values()) < MIN_TRIALS:  # no interval from so few trials
        return Expected(deps, estimate, None, None, reference, month, ref_month)
    resampled = sorted(expected_draws(samples, rates, random.Random(seed)))
    low, high = _quantile(resampled, 0.025), _quantile(resampled, 0.975)
    return Expected(deps, estimate, low, high, reference, month, ref_month)


def expected_draws(
    samples: dict[str, Sequence[float]],
    rates: dict[str, float],
    rng: random.Random,
    draws: int = BOOTSTRAP_RESAMPLES,
) -> list[float]:
    """Bootstrap draws of the expected time: each resamples every outcome's trials (seconds,
    keyed ``exact``/``partial``/``miss``) and weights their medians by the rates."""
    return [
        _weighted(
            rates, {o: statistics.median(rng.choices(v, k=len(v))) for o, v in samples.items()}
        )
        for _ in range(draws)
    ]


def _weighted(rates: dict[str, float], medians: dict[str, float]) -> float:
    return sum(rates[o] * medians[o] for o in medians)


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

"""Two runs side by side: per cell the change in median total, with a bootstrap test.

A change is significant when the 95 % bootstrap interval of the ratio of medians (B over A)
leaves out 1, and is never called significant with fewer than ``MIN_TRIALS`` successful trials
on either side (the table says "not tested" and why). ``--fail-above 10%`` makes the command
exit 1 when any cell is significantly slower in B by more than that, for use in CI. Trials run
on a busy machine (``machine_busy`` over the threshold) are counted in the last column.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench import results
from bench.errors import BenchError
from bench.results import TrialRecord, latest_attempts
from bench.stats import BUSY_THRESHOLD, MIN_TRIALS, speedup, successful_totals, summarize
from bench.vocabulary import PHASES, Cell


@dataclass(frozen=True)
class Change:
    cell: Cell
    median_a: float
    median_b: float
    ratio: float  # B / A
    low: float | None  # None with fewer than MIN_TRIALS trials a side
    high: float | None
    n_a: int = 0
    n_b: int = 0
    busy_a: int = 0  # trials over BUSY_THRESHOLD
    busy_b: int = 0
    iqr_a: float = 0.0  # spread of each side, seconds
    iqr_b: float = 0.0

    @property
    def tested(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def significant(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return self.low > 1.0 or self.high < 1.0

    @property
    def verdict(self) -> str:
        if not self.tested:
            return f"not tested: fewer than {MIN_TRIALS} trials (n={self.n_a} and {self.n_b})"
        return "yes" if self.significant else "no"

    @property
    def label(self) -> str:
        return f"{self.cell.deps}/{self.cell.scenario}/{self.cell.state}"

    @property
    def percent(self) -> float:
        return (self.ratio - 1.0) * 100


def _busy(records: list[TrialRecord]) -> dict[Cell, int]:
    busy: dict[Cell, int] = {}
    for r in latest_attempts(records):
        if r.succeeded and r.machine_busy is not None and r.machine_busy > BUSY_THRESHOLD:
            busy[r.cell] = busy.get(r.cell, 0) + 1
    return busy


def compare_runs(run_a: Path, run_b: Path, seed: int = 0, phase: str | None = None) -> list[Change]:
    """Per common cell, B against A: the total's change, or one phase's with ``phase``."""
    if phase is not None and phase not in PHASES:
        raise BenchError(f"unknown phase {phase!r}; give one of {', '.join(PHASES)}")
    records_a, records_b = results.read_whole_trials(run_a), results.read_whole_trials(run_b)
    a, b = successful_totals(records_a, phase), successful_totals(records_b, phase)
    busy_a, busy_b = _busy(records_a), _busy(records_b)
    common = sorted(set(a) & set(b))
    if not common:
        raise BenchError(f"{run_a} and {run_b} share no scenario, set and state to compare")
    changes = []
    for cell in common:
        # speedup(x, y) is median(x)/median(y): with x = B and y = A it is the ratio B / A.
        if min(statistics.median(a[cell]), statistics.median(b[cell])) <= 0:
            continue  # a phase this cell does not have (e.g. no restore when cold)
        interval = speedup(b[cell], a[cell], seed=seed)
        changes.append(
            Change(
                cell,
                statistics.median(a[cell]),
                statistics.median(b[cell]),
                interval.estimate,
                interval.low,
                interval.high,
                n_a=len(a[cell]),
                n_b=len(b[cell]),
                busy_a=busy_a.get(cell, 0),
                busy_b=busy_b.get(cell, 0),
                iqr_a=summarize(a[cell]).iqr,
                iqr_b=summarize(b[cell]).iqr,
            )
        )
    return changes


def changes_table(changes: Sequence[Change], table_format: str = "github") -> str:
    rows: list[list[Any]] = [
        [
            c.cell.deps,
            c.cell.scenario,
            c.cell.state,
            f"{c.median_a:.2f} ±{c.iqr_a / 2:.2f} (n={c.n_a})",
            f"{c.median_b:.2f} ±{c.iqr_b / 2:.2f} (n={c.n_b})",
            f"{c.percent:+.1f}%",
            "—"
            if c.low is None or c.high is None
            else f"[{(c.low - 1) * 100:+.1f}%, {(c.high - 1) * 100:+.1f}%]",
            c.verdict,
            _busy_text(c),
        ]
        for c in changes
    ]
    headers = [
        "set",
        "scenario",
        "state",
        "A (s, ±IQR/2)",
        "B (s, ±IQR/2)",
        "change",
        "95% CI",
        "significant",
        f"busy trials (> {BUSY_THRESHOLD:.0%})",
    ]
    return tabulate(rows, headers=headers, tablefmt=table_format, disable_numparse=True)


def _busy_text(change: Change) -> str:
    if not (change.busy_a or change.busy_b):
        return ""
    return f"A {change.busy_a}, B {change.busy_b}"


def parse_threshold(text: str) -> float:
    """``10%`` or ``10`` as a percentage."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise BenchError(f"--fail-above {text!r} is not a percentage such as 10%") from None
    if value < 0:
        raise BenchError("--fail-above must not be negative")
    return value


def regressions(changes: Sequence[Change], threshold_percent: float) -> list[Change]:
    return [c for c in changes if c.significant and c.percent > threshold_percent]

"""Two runs side by side: per cell the change in median total, with a bootstrap test.

A change is significant when the 95 % bootstrap interval of the ratio of medians (B over A)
leaves out 1. ``--fail-above 10%`` makes the command exit 1 when any cell is significantly
slower in B by more than that, for use in CI.
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
from bench.stats import speedup, successful_totals
from bench.vocabulary import Cell


@dataclass(frozen=True)
class Change:
    cell: Cell
    median_a: float
    median_b: float
    ratio: float  # B / A
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 1.0 or self.high < 1.0

    @property
    def label(self) -> str:
        return f"{self.cell.deps}/{self.cell.scenario}/{self.cell.state}"

    @property
    def percent(self) -> float:
        return (self.ratio - 1.0) * 100


def _totals(run_dir: Path) -> dict[Cell, list[float]]:
    return successful_totals(results.read_whole_trials(run_dir))


def compare_runs(run_a: Path, run_b: Path, seed: int = 0) -> list[Change]:
    a, b = _totals(run_a), _totals(run_b)
    common = sorted(set(a) & set(b))
    if not common:
        raise BenchError(f"{run_a} and {run_b} share no scenario, set and state to compare")
    changes = []
    for cell in common:
        # speedup(x, y) is median(x)/median(y): with x = B and y = A it is the ratio B / A.
        interval = speedup(b[cell], a[cell], seed=seed)
        changes.append(
            Change(
                cell,
                statistics.median(a[cell]),
                statistics.median(b[cell]),
                interval.estimate,
                interval.low,
                interval.high,
            )
        )
    return changes


def changes_table(changes: Sequence[Change], table_format: str = "github") -> str:
    rows: list[list[Any]] = [
        [
            c.cell.deps,
            c.cell.scenario,
            c.cell.state,
            f"{c.median_a:.1f}",
            f"{c.median_b:.1f}",
            f"{c.percent:+.1f}%",
            f"[{(c.low - 1) * 100:+.1f}%, {(c.high - 1) * 100:+.1f}%]",
            "yes" if c.significant else "no",
        ]
        for c in changes
    ]
    headers = ["set", "scenario", "state", "A (s)", "B (s)", "change", "95% CI", "significant"]
    return tabulate(rows, headers=headers, tablefmt=table_format, disable_numparse=True)


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

"""Tables of a run's statistics (tabulate) and CSV exports of its trials and cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from tabulate import tabulate

from bench.errors import BenchError
from bench.results import TrialRecord
from bench.stats import CellStats, Interval, cell_sort_key
from bench.vocabulary import PHASES

FORMATS = ("github", "rst", "plain", "html")  # tabulate's names for them
HEADERS = [
    "scenario",
    "state",
    *PHASES,
    "total (IQR) n",
    "speed-up [95% CI]",
    "archive",
    "from index",
]


def set_table(cells: Sequence[CellStats], deps: str, table_format: str = "github") -> str:
    """One dependency set: rows scenario by state, medians in seconds."""
    if table_format not in FORMATS:
        raise BenchError(f"unknown table format {table_format!r}; give one of {', '.join(FORMATS)}")
    rows = [_row(c) for c in sorted((c for c in cells if c.deps == deps), key=cell_sort_key)]
    return tabulate(rows, headers=HEADERS, tablefmt=table_format, disable_numparse=True)


def _row(cell: CellStats) -> list[str]:
    name = cell.scenario + (f" ({cell.failed}/{cell.trials} failed)" if cell.failed else "")
    if cell.total is None:
        return [name, cell.state, *["—"] * len(PHASES), "all failed", "—", "—", "—"]
    phases = [f"{cell.phases[p].median:.1f}" for p in PHASES]
    total = f"{cell.total.median:.1f} ({cell.total.iqr:.1f}) n={cell.n}"
    speed = "—"
    if cell.speedup is not None:
        speed = speedup_text(cell.speedup)
    return [
        name,
        cell.state,
        *phases,
        total,
        speed,
        _size(cell.archive_bytes),
        _size(cell.index_bytes),
    ]


def speedup_text(s: Interval) -> str:
    """``2.00x [1.90, 2.10]``; ``2.00x [—]`` when too few trials give no interval."""
    if s.low is None or s.high is None:
        return f"{s.estimate:.2f}x [—]"
    return f"{s.estimate:.2f}x [{s.low:.2f}, {s.high:.2f}]"


def _size(value: float | None) -> str:
    if not value:
        return "—"
    if value < 1e6:
        return f"{value / 1e3:.0f} kB"
    return f"{value / 1e6:.1f} MB"


def cells_csv(cells: Sequence[CellStats]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    phase_columns = [f"{p}_median_s" for p in PHASES]
    writer.writerow(
        [
            "deps",
            "scenario",
            "state",
            "trials",
            "failed",
            "total_median_s",
            "total_q1_s",
            "total_q3_s",
            "total_min_s",
            "total_max_s",
            "total_mean_s",
            "total_stdev_s",
            *phase_columns,
            "speedup",
            "speedup_low",
            "speedup_high",
            "archive_bytes",
            "index_bytes",
            "warnings",
        ]
    )
    for c in sorted(cells, key=cell_sort_key):
        t = c.total
        totals = [t.median, t.q1, t.q3, t.minimum, t.maximum, t.mean, t.stdev] if t else [""] * 7
        phases = [c.phases[p].median for p in PHASES] if t else [""] * len(PHASES)
        speed = [c.speedup.estimate, c.speedup.low, c.speedup.high] if c.speedup else [""] * 3
        speed = ["" if value is None else value for value in speed]
        writer.writerow(
            [
                c.deps,
                c.scenario,
                c.state,
                c.trials,
                c.failed,
                *totals,
                *phases,
                *speed,
                c.archive_bytes if c.archive_bytes is not None else "",
                c.index_bytes if c.index_bytes is not None else "",
                "; ".join(c.warnings),
            ]
        )
    return out.getvalue()


def trials_csv(records: Sequence[TrialRecord]) -> str:
    """Every trial, one row each, phases in seconds."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "trial_id",
            "deps",
            "scenario",
            "state",
            "repetition",
            "order",
            "status",
            "total_s",
            *[f"{p}_s" for p in PHASES],
            "harness_fraction",
            "machine_busy",
            "attempt",
            "mirror_bytes",
            "restored_archive_bytes",
            "saved_archive_bytes",
            "cache_hit",
            "error",
        ]
    )
    for r in sorted(records, key=lambda r: r.order):
        writer.writerow(
            [
                r.trial_id,
                r.deps,
                r.scenario,
                r.state,
                r.repetition,
                r.order,
                r.status,
                r.total_s,
                *[r.phase_s(p) for p in PHASES],
                r.harness_fraction,
                "" if r.machine_busy is None else r.machine_busy,
                r.attempt,
                r.mirror_bytes,
                r.restored_archive_bytes,
                r.saved_archive_bytes,
                "|".join(r.cache_hit),
                r.error or "",
            ]
        )
    return out.getvalue()

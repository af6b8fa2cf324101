"""Figures of a run, headless: one figure per file, PNG and SVG, named predictably.

- ``phases-<set>.png|svg``: per scenario and state, horizontal stacked bars of the phase
  medians with the total's IQR as a whisker, and beside them every trial's total as a dot.
- ``speedup.png|svg``: each scenario's speed-up against the reference on every set, with its
  95 % interval.
- ``archive-vs-restore.png|svg``: restored archive size against restore time, per cell.

Colours are the Okabe-Ito palette, which readers with the common colour-vision deficiencies
can tell apart; phases also differ by hatching.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import ticker

from bench.results import TrialRecord
from bench.stats import CellStats, cell_sort_key
from bench.vocabulary import PHASES, REFERENCE_SCENARIO

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: selectable, searchable, smaller
matplotlib.rcParams["svg.hashsalt"] = "ci-cache-bench"  # the same records draw the same file

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
PHASE_COLOURS = dict(zip(PHASES, OKABE_ITO, strict=False))
# For series drawn as markers: the palette without its yellow, which is faint on white.
SERIES = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
PHASE_HATCHES = dict(zip(PHASES, ["", "//", "", "..", "\\\\"], strict=False))
FORMATS = ("png", "svg")


def _caption(context: dict[str, str]) -> str:
    return f"profile: {context.get('profile', '?')} · machine: {context.get('machine', '?')}"


def _save(figure: Any, folder: Path, stem: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension in FORMATS:
        path = folder / f"{stem}.{extension}"
        figure.savefig(path, dpi=110, metadata={"Date": None} if extension == "svg" else None)
        paths.append(path)
    plt.close(figure)
    return paths


def phases_figure(
    cells: Sequence[CellStats],
    records: Sequence[TrialRecord],
    deps: str,
    folder: Path,
    context: dict[str, str],
) -> list[Path]:
    rows = sorted(
        (c for c in cells if c.deps == deps and c.total is not None),
        key=cell_sort_key,
    )
    labels = [f"{c.scenario} · {c.state}" for c in rows]
    height = max(3.0, 0.38 * len(rows) + 1.5)
    figure, (bars, dots) = plt.subplots(
        1,
        2,
        figsize=(12, height),
        sharey=True,
        gridspec_kw={"width_ratios": [3, 1]},
        layout="constrained",
    )
    positions = list(range(len(rows)))
    left = [0.0] * len(rows)
    for phase in PHASES:
        widths = [c.phases[phase].median for c in rows]
        bars.barh(
            positions,
            widths,
            left=left,
            color=PHASE_COLOURS[phase],
            hatch=PHASE_HATCHES[phase],
            edgecolor="white",
            label=phase,
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    totals = [c.total for c in rows if c.total is not None]
    bars.errorbar(
        [s.median for s in totals],
        positions,
        xerr=[[s.median - s.q1 for s in totals], [s.q3 - s.median for s in totals]],
        fmt="none",
        ecolor="black",
        capsize=3,
        linewidth=1,
    )
    bars.set_yticks(positions, labels)
    bars.invert_yaxis()
    bars.set_xlabel("median time per phase (s); whisker: IQR of the total")
    bars.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=len(PHASES),
        fontsize="small",
        title="phase",
        frameon=False,
    )
    bars.set_title(f"{deps}: where the job's time goes (seconds, medians of each phase)")
    index = {(c.scenario, c.state): y for y, c in zip(positions, rows, strict=True)}
    for failed, marker, colour in ((False, "o", SERIES[0]), (True, "x", SERIES[3])):
        points = [
            (r.total_s, index[(r.scenario, r.state)])
            for r in records
            if r.deps == deps and (r.scenario, r.state) in index and (not r.succeeded) == failed
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            dots.plot(xs, ys, marker, color=colour, alpha=0.7, markersize=4, linestyle="none")
    dots.set_xlabel("each trial's total (s); x = failed")
    dots.set_title("trials")
    dots.set_xlim(left=0)
    figure.supxlabel(_caption(context), fontsize="small", color="#555555", x=0.01, ha="left")
    return _save(figure, folder, f"phases-{deps}")


def speedup_figure(
    cells: Sequence[CellStats],
    folder: Path,
    context: dict[str, str],
    reference: str = REFERENCE_SCENARIO,
) -> list[Path]:
    shown = sorted(
        (
            c
            for c in cells
            if c.speedup is not None and (c.scenario, c.state) != (reference, "cold")
        ),
        key=cell_sort_key,
    )
    sets = sorted({c.deps for c in shown})
    figure, axes = plt.subplots(
        figsize=(10, max(3.0, 0.3 * len(shown) + 1.5)), layout="constrained"
    )
    for index, deps in enumerate(sets):
        mine = [(y, c.speedup) for y, c in enumerate(shown) if c.deps == deps and c.speedup]
        axes.errorbar(
            [s.estimate for _, s in mine],
            [y for y, _ in mine],
            xerr=[[s.estimate - s.low for _, s in mine], [s.high - s.estimate for _, s in mine]],
            fmt="o",
            color=SERIES[index % len(SERIES)],
            capsize=3,
            label=deps,
        )
    axes.axvline(1.0, color="#555555", linewidth=1, linestyle="--")
    axes.set_yticks(range(len(shown)), [f"{c.deps} · {c.scenario} · {c.state}" for c in shown])
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(ticker.FixedLocator([0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32]))
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}x"))
    axes.xaxis.set_minor_locator(ticker.NullLocator())
    axes.set_xlabel(
        f"speed-up against {reference}, cold (log scale; 95 % bootstrap interval; > 1 is faster)"
    )
    axes.set_title("Speed-up of each scenario")
    axes.legend(title="set", fontsize="small")
    figure.supxlabel(_caption(context), fontsize="small", color="#555555", x=0.01, ha="left")
    return _save(figure, folder, "speedup")


def archive_figure(cells: Sequence[CellStats], folder: Path, context: dict[str, str]) -> list[Path]:
    restored = [
        c
        for c in cells
        if c.total is not None and c.state != "cold" and c.archive_bytes and c.phases
    ]
    sets = sorted({c.deps for c in restored})
    figure, axes = plt.subplots(figsize=(8, 5.5), layout="constrained")
    for index, deps in enumerate(sets):
        mine = [c for c in restored if c.deps == deps]
        axes.scatter(
            [c.archive_bytes / 1e6 for c in mine],
            [c.phases["restore"].median for c in mine],
            color=SERIES[index % len(SERIES)],
            label=deps,
            marker="os^Dv"[index % 5],
        )
    axes.set_xlabel("archive restored (MB, compressed)")
    axes.set_ylabel("median restore phase (s)")
    axes.set_title("What restoring a cache costs, by its size")
    if sets:
        axes.legend(title="set", fontsize="small")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    figure.supxlabel(_caption(context), fontsize="small", color="#555555", x=0.01, ha="left")
    return _save(figure, folder, "archive-vs-restore")


def all_figures(
    cells: Sequence[CellStats],
    records: Sequence[TrialRecord],
    folder: Path,
    context: dict[str, str],
    reference: str = REFERENCE_SCENARIO,
) -> list[Path]:
    paths: list[Path] = []
    for deps in sorted({c.deps for c in cells}):
        paths += phases_figure(cells, records, deps, folder, context)
    paths += speedup_figure(cells, folder, context, reference)
    paths += archive_figure(cells, folder, context)
    return paths

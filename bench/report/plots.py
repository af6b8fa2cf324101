"""Figures of a run, headless: one figure per file, PNG and SVG, named predictably.

- ``phases-<set>.png|svg``: per scenario and state, horizontal stacked bars of the phase
  medians with the total's IQR as a whisker, and beside them every trial's total as a dot.
- ``speedup.png|svg``: a heatmap per cache state, scenarios by sets, each cell's speed-up against
  the reference printed in it (intervals are in the tables).
- ``archive-vs-restore.png|svg``: restored archive size against restore time, per cell.

Colours are the Okabe-Ito palette, which readers with the common colour-vision deficiencies
can tell apart; phases also differ by hatching.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib import colormaps, colors

from bench.figurestyle import FORMATS, OKABE_ITO, SERIES, plt
from bench.results import TrialRecord
from bench.stats import MIN_TRIALS, CellStats, cell_sort_key
from bench.vocabulary import PHASES, REFERENCE_SCENARIO, REFERENCE_STATE, STATES

PHASE_COLOURS = dict(zip(PHASES, OKABE_ITO, strict=False))
PHASE_HATCHES = dict(zip(PHASES, ["", "//", "", "..", "\\\\"], strict=False))


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
    """A heatmap per cache state: scenarios down, sets across, the speed-up printed in each cell.

    The colour is diverging and centred at 1x on a log scale (0.5x and 2x are equally strong),
    from ColorBrewer's PuOr, which readers with the common colour-vision deficiencies can read:
    purple is faster than the reference, orange slower. Cells with fewer than the minimum of
    trials say so under the value; cells not run are left grey.
    """
    shown = [c for c in cells if c.speedup is not None]
    states = [state for state in STATES if any(c.state == state for c in shown)]
    sets = sorted({c.deps for c in shown})
    scenarios = sorted({c.scenario for c in shown}, key=lambda n: (n != reference, n))
    index = {(c.scenario, c.deps, c.state): c for c in shown}
    estimates = [c.speedup.estimate for c in shown if c.speedup and c.speedup.estimate > 0]
    extreme = max([abs(math.log2(v)) for v in estimates] + [1.0])
    norm = colors.TwoSlopeNorm(vmin=-extreme, vcenter=0.0, vmax=extreme)
    cmap = colormaps["PuOr"]
    width = 1.6 + 1.25 * len(sets) * max(1, len(states))
    figure, axes = plt.subplots(
        1,
        max(1, len(states)),
        figsize=(max(6.0, width), 1.6 + 0.42 * len(scenarios)),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    image = None
    for axis, state in zip(axes[0], states, strict=False):
        grid = [
            [
                math.log2(cell.speedup.estimate)
                if (cell := index.get((scenario, deps, state))) and cell.speedup
                and cell.speedup.estimate > 0
                else math.nan
                for deps in sets
            ]
            for scenario in scenarios
        ]  # fmt: skip
        axis.set_facecolor("#d9d9d9")
        image = axis.imshow(grid, cmap=cmap, norm=norm, aspect="auto")
        for y, scenario in enumerate(scenarios):
            for x, deps in enumerate(sets):
                cell = index.get((scenario, deps, state))
                if cell is None or cell.speedup is None:
                    continue
                value = cell.speedup.estimate
                label = f"{value:.2f}x" if value < 10 else f"{value:.1f}x"
                if cell.n < MIN_TRIALS:
                    label += f"\nn={cell.n}"
                dark = abs(norm(math.log2(value)) - 0.5) > 0.3 if value > 0 else False
                axis.text(
                    x, y, label, ha="center", va="center", fontsize="small",
                    color="white" if dark else "black",
                )  # fmt: skip
        axis.set_xticks(range(len(sets)), sets)
        axis.set_yticks(range(len(scenarios)), scenarios)
        axis.tick_params(length=0)
        axis.set_title(f"{state} cache")
        for spine in axis.spines.values():
            spine.set_visible(False)
    if image is not None:
        bar = figure.colorbar(image, ax=axes[0].tolist(), shrink=0.8, pad=0.02)
        ticks = [t for t in range(-8, 9) if abs(t) <= extreme]
        bar.set_ticks(ticks, labels=[f"{2.0**t:g}x" for t in ticks])
        bar.set_label(f"speed-up against {reference} {REFERENCE_STATE} (log scale)")
    figure.suptitle(  # two lines: a figure for one set is narrow
        f"Speed-up of each scenario on each set\n{reference} {REFERENCE_STATE}'s median over "
        "the cell's median (> 1x is faster; grey: not run)",
        fontsize="medium",
    )
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

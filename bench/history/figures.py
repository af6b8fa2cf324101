"""The replay's figures, headless, PNG and SVG, in the report's palette.

- ``history-outcomes``: each run's outcome over time, one row per strategy (exact, partial and
  miss differ by colour and by marker shape).
- ``history-store``: each strategy's store size after every run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.figurestyle import FORMATS, SERIES, plt
from bench.history.outcomes import Replay
from bench.history.replay import EXACT, MISS, PARTIAL

STYLE = {
    EXACT: ("#009E73", "o", "exact hit"),
    PARTIAL: ("#E69F00", "s", "restore-key hit"),
    MISS: ("#D55E00", "x", "miss"),
}


def _dates(replay: Replay) -> list[datetime]:
    return [datetime.fromtimestamp(r.time, UTC) for r in replay.timeline]


def _save(figure, folder: Path, stem: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension in FORMATS:
        path = folder / f"{stem}.{extension}"
        figure.savefig(path, dpi=110)
        paths.append(path)
    plt.close(figure)
    return paths


def outcomes_figure(replays: list[Replay], folder: Path, title: str) -> list[Path]:
    height = max(2.5, 0.5 * len(replays) + 1.5)
    figure, axes = plt.subplots(figsize=(12, height), layout="constrained")
    for row, replay in enumerate(replays):
        dates = _dates(replay)
        for outcome, (colour, marker, label) in STYLE.items():
            xs = [d for d, r in zip(dates, replay.timeline, strict=True) if r.outcome == outcome]
            axes.scatter(
                xs,
                [row] * len(xs),
                c=colour,
                marker=marker,
                s=18,
                linewidths=1.0,
                label=label if row == 0 else None,
            )
    axes.set_yticks(range(len(replays)), [r.name for r in replays])
    axes.invert_yaxis()
    axes.set_xlabel("commit time (UTC)")
    axes.set_title(title)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    return _save(figure, folder, "history-outcomes")


def store_figure(replays: list[Replay], folder: Path, title: str) -> list[Path]:
    """One panel per strategy (shared axes): identical keys would hide each other's lines."""
    rows = max(1, len(replays))
    figure, panels = plt.subplots(
        rows,
        1,
        figsize=(12, 1.0 * rows + 1.6),
        sharex=True,
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    limit = max((r.limit_bytes for r in replays), default=0) / 1e9
    near_limit = bool(replays) and max(r.peak_bytes for r in replays) / 1e9 > 0.5 * limit
    for index, (replay, axes) in enumerate(zip(replays, panels[:, 0], strict=False)):
        axes.step(
            _dates(replay),
            [r.store_bytes / 1e9 for r in replay.timeline],
            where="post",
            color=SERIES[index % len(SERIES)],
            linewidth=1.0,
        )
        if near_limit:
            axes.axhline(limit, color="#000000", linewidth=0.8, linestyle=":")
        axes.set_ylabel(replay.name, rotation=0, ha="right", va="center")
        axes.set_ylim(bottom=0)
    panels[0, 0].set_title(f"{title} · store size after each run (GB)")
    panels[-1, 0].set_xlabel("commit time (UTC)")
    return _save(figure, folder, "history-store")

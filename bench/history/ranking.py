"""The report's ranking by expected time, from a replay kept in the run folder.

``history --run RUN_DIR --out RUN_DIR`` (or ``report --history REPO``) leaves ``history.json``
in the run folder; the report then ranks strategies per set by their expected time per run
over that history, not by their warm time alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.history.command import HISTORY_FILE, HistoryOptions, replay_history

SECTION = "## What the numbers say\n"


def write_replay(repo: Path, run_dir: Path) -> Path:
    """Replay ``repo`` with the run's sizes and times and keep it in the run folder."""
    replay_history(HistoryOptions(repo=repo, run_dir=run_dir, out=run_dir))
    return run_dir / HISTORY_FILE


def ranking_markdown(run_dir: Path) -> str:
    """Per set, the strategies by expected time per run; '' when the run holds no replay."""
    path = run_dir / HISTORY_FILE
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    by_set: dict[str, list[tuple[float, str, dict, dict]]] = {}
    reference: dict[str, float] = {}
    for name, strategy in data.get("strategies", {}).items():
        for deps, entry in (strategy.get("by_deps") or {}).items():
            if entry.get("expected_s") is None:
                continue
            by_set.setdefault(deps, []).append((entry["expected_s"], name, entry, strategy))
            if entry.get("no_cache_cold_s") is not None:
                reference[deps] = entry["no_cache_cold_s"]
    if not by_set:
        return ""
    lines = [
        f"Ranked by expected time per run over the history of {data.get('name', '?')} "
        f"({data.get('branch')}, {data.get('runs')} pushes, {data.get('first', '')[:10]} to "
        f"{data.get('last', '')[:10]}): each strategy's exact, restore-key and miss rates there "
        "weight its warm, partial and cold medians here (95 % bootstrap interval).\n"
    ]
    for deps in sorted(by_set):
        ranked = sorted(by_set[deps], key=lambda item: item[0])
        parts = []
        for expected, name, entry, strategy in ranked:
            low, high = entry["interval_s"]
            month = entry.get("ci_minutes_per_month")
            parts.append(
                f"{name} {expected:.1f} s ({low:.1f} to {high:.1f}; exact "
                f"{strategy['exact_rate']:.0%}, partial {strategy['partial_rate']:.0%}, miss "
                f"{strategy['miss_rate']:.0%}"
                + (f"; {month:.0f} CI min/month" if month is not None else "")
                + ")"
            )
        tail = f"; no-cache cold {reference[deps]:.1f} s" if deps in reference else ""
        lines.append(f"- {deps}: " + ", ".join(parts) + tail)
    figure = run_dir / "figures" / "history-outcomes.png"
    if figure.is_file():
        lines.append(
            f"\n![Each push's cache outcome over the history]({figure.relative_to(run_dir)})"
        )
    return "\n".join(lines) + "\n"


def with_history_ranking(text: str, run_dir: Path) -> str:
    """``text`` (report.md) with the ranking at the end of "What the numbers say"."""
    ranking = ranking_markdown(run_dir)
    start = text.find(SECTION)
    if not ranking or start < 0:
        return text
    end = text.find("\n## ", start + len(SECTION))
    end = len(text) if end < 0 else end + 1
    return text[:end] + ranking + "\n" + text[end:]

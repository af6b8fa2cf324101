"""``report.md``: a run's metadata, what the numbers say, tables, figures and claims, every
sentence computed from the records."""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import results, stopping
from bench.errors import BenchError
from bench.history.ranking import with_history_ranking
from bench.report import plots, tables
from bench.report.claims import evaluate_claims
from bench.results import TrialRecord
from bench.stats import (
    BUSY_THRESHOLD,
    MIN_TRIALS,
    CellStats,
    Interval,
    cell_stats,
    successful_totals,
)
from bench.vocabulary import REFERENCE_SCENARIO, REFERENCE_STATE, Cell

REFERENCE = REFERENCE_SCENARIO


@dataclass(frozen=True)
class Rendered:
    report: Path
    figures: list[Path]
    csvs: list[Path]


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[TrialRecord]]:
    """The run's metadata and its trial records; bad or empty input is a clear error."""
    run_info = results.read_json(run_dir / results.RUN_FILE)
    records = results.read_whole_trials(run_dir)
    if not records:
        raise BenchError(f"{run_dir} has no trials yet; run or resume it first")
    if not any(r.succeeded for r in records):
        raise BenchError(
            f"every trial in {run_dir} failed; nothing to report (see {run_dir / 'logs'})"
        )
    return run_info, records


def render(run_dir: Path, table_format: str = "github", seed: int = 0) -> Rendered:
    run_info, records = load_run(run_dir)
    cells = cell_stats(records, reference=REFERENCE, seed=seed)
    figures_dir = run_dir / "figures"
    figures = plots.all_figures(cells, records, figures_dir, _context(run_info), REFERENCE)
    summary_csv, trials_csv = run_dir / "summary.csv", run_dir / "trials.csv"
    summary_csv.write_text(tables.cells_csv(cells))
    trials_csv.write_text(tables.trials_csv(records))
    text = report_text(run_info, records, cells, table_format)
    text = with_history_ranking(text, run_dir)  # when the run folder holds a history replay
    report = run_dir / "report.md"
    report.write_text(text)
    return Rendered(report, figures, [summary_csv, trials_csv])


def step_summary_text(run_dir: Path) -> str:
    """The Markdown tables of a run, for a GitHub Actions job summary."""
    _run_info, records = load_run(run_dir)
    cells = cell_stats(records, reference=REFERENCE)
    parts = [f"## ci-cache-bench: {run_dir.name}\n"]
    for deps in sorted({c.deps for c in cells}):
        parts += [f"### {deps}\n", tables.set_table(cells, deps, "github"), ""]
    return "\n".join(parts) + "\n"


HARNESS_LIMIT = 0.05  # the harness's own share of a trial's wall time should stay under this


def short_summary(run_dir: Path, seed: int = 0) -> str:
    """What ``run`` prints at the end: per set the fastest strategy warm and cold, with its
    speed-up and interval, then the warnings that matter."""
    run_info, records = load_run(run_dir)
    cells = cell_stats(records, reference=REFERENCE, seed=seed)
    totals = successful_totals(records)
    lines = [f"summary of {run_dir.name} (speed-up against {REFERENCE} {REFERENCE_STATE}):"]
    for deps in sorted({c.deps for c in cells}):
        for state in ("warm", "cold"):
            candidates = [
                c for c in cells
                if c.deps == deps and c.state == state and c.speedup is not None
                and not c.cell.is_reference
            ]  # fmt: skip
            if not candidates:
                continue
            best = max(candidates, key=lambda c: c.speedup.estimate if c.speedup else 0)
            assert best.speedup is not None and best.total is not None
            lines.append(
                f"  {deps}, {state}: {best.scenario} {best.total.median:.1f} s (n={best.n}), "
                f"{interval_words(best.speedup)}{_runner_up(totals, best.cell, seed)}"
            )
    cost = settling_cost(records)
    if cost.pairs:
        lines.append(
            f"  not settled: {cost.pairs} podium pair(s) not yet told apart; {_cost_words(cost)}"
            " would tell"
        )
    warnings = summary_warnings(run_info, records, cells)
    if warnings:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in warnings]
    return "\n".join(lines)


def podium_lines(records: Sequence[TrialRecord], seed: int = 0) -> list[str]:
    """Per set and state, the fastest cells in order with how each stands against the next,
    and whether that podium is settled (``bench.stopping``'s rule, on the same totals)."""
    groups = stopping.by_set_and_state(successful_totals(records))
    lines = []
    for (deps, state), group in sorted(groups.items()):
        pairs = stopping.podium(group, seed)
        if not pairs:
            continue
        words = [_seconds(pairs[0].first, group)]
        words += [
            f"*{pair.relation}* {_seconds(pair.second, group, _trials_to_tell(pair, group))}"
            for pair in pairs
        ]
        settled = "settled" if stopping.ranking_settled(group, seed) else "**not settled**"
        lines.append(f"{deps}, {state}: {' '.join(words)}: {settled}")
    return lines


def _trials_to_tell(pair: stopping.Neighbours, group: Mapping[Cell, Sequence[float]]) -> str:
    if pair.relation != stopping.UNSURE:
        return ""
    trials = stopping.trials_to_tell_apart(group[pair.first], group[pair.second])
    return "" if trials is None else f"; about {trials} trials each would tell"


@dataclass(frozen=True)
class SettlingCost:
    """What the podiums not yet settled would cost on this machine, roughly."""

    pairs: int  # neighbour pairs not yet told apart, with an estimate
    trials: int  # more trials they need, in all
    seconds: float  # those trials at each cell's median trial time here, chores included


def settling_cost(records: Sequence[TrialRecord]) -> SettlingCost:
    """``stopping.unsettled_pairs`` over every set and state, in trials and time."""
    groups = stopping.by_set_and_state(successful_totals(records))
    walls: dict[Cell, list[float]] = {}
    for record in records:
        if record.succeeded:
            walls.setdefault(record.cell, []).append(record.occupied_s)
    pairs = trials = 0
    seconds = 0.0
    for group in groups.values():
        estimates = stopping.unsettled_pairs(group)
        pairs += len(estimates)
        for cell, needed in stopping.trials_per_cell(estimates).items():
            more = max(0, needed - len(group[cell]))
            trials += more
            seconds += more * statistics.median(walls[cell])
    return SettlingCost(pairs, trials, seconds)


def _cost_words(cost: SettlingCost) -> str:
    if not cost.trials:  # the estimate says they have enough: it is a rough guide
        return "a few more trials"
    return f"about {cost.trials} more trials ({_minutes(cost.seconds)})"


def _seconds(cell: Cell, group: Mapping[Cell, Sequence[float]], note: str = "") -> str:
    return f"{cell.scenario} {statistics.median(group[cell]):.1f} s (n={len(group[cell])}{note})"


def _runner_up(totals: dict[Cell, list[float]], best: Cell, seed: int) -> str:
    """ "; ties with X" / "; not yet told apart from X" when the fastest is not clear."""
    group = {c: v for c, v in totals.items() if (c.deps, c.state) == (best.deps, best.state)}
    pairs = stopping.podium(group, seed)
    if not pairs or pairs[0].first != best or pairs[0].relation == stopping.FASTER:
        return ""
    return f"; {pairs[0].relation} {pairs[0].second.scenario}"


def summary_warnings(
    run_info: dict[str, Any], records: Sequence[TrialRecord], cells: Sequence[CellStats]
) -> list[str]:
    """The warnings a reader must see before quoting a figure of this run."""
    warnings = list(run_info.get("machine_state", {}).get("warnings", []))
    busy = [r for r in records if r.machine_busy is not None and r.machine_busy > BUSY_THRESHOLD]
    if busy:
        warnings.append(
            f"{len(busy)} trial(s) ran while other processes used over {BUSY_THRESHOLD:.0%} of "
            f"the CPU (highest {max(r.machine_busy or 0 for r in busy):.0%}); --retry-busy "
            "re-runs them"
        )
    failed = sum(not r.succeeded for r in records)
    if failed:
        warnings.append(f"{failed} trial(s) failed (see the logs folder)")
    short = [c for c in cells if c.total is not None and c.n < MIN_TRIALS]
    if short:
        warnings.append(
            f"{len(short)} cell(s) have fewer than {MIN_TRIALS} successful trials: no interval "
            "or verdict from them"
        )
    heavy = [r for r in records if (r.harness_fraction or 0) > HARNESS_LIMIT]
    if heavy:
        worst = max(r.harness_fraction or 0 for r in heavy)
        warnings.append(
            f"the harness's own cost was over {HARNESS_LIMIT:.0%} of {len(heavy)} trial(s) "
            f"(up to {worst:.0%})"
        )
    return warnings


def publish(rendered: Rendered, target: Path) -> list[Path]:
    """Copy the report, its figures and the summary CSV into ``target`` (e.g. docs/results)."""
    (target / "figures").mkdir(parents=True, exist_ok=True)
    written = [Path(shutil.copy2(rendered.report, target / "report.md"))]
    written += [Path(shutil.copy2(f, target / "figures" / f.name)) for f in rendered.figures]
    written.append(Path(shutil.copy2(rendered.csvs[0], target / "summary.csv")))
    return written


def _context(run_info: dict[str, Any]) -> dict[str, str]:
    machine = run_info.get("machine", {})
    return {
        "profile": run_info.get("profile", {}).get("name", "?"),
        "machine": f"{machine.get('cpu_model', '?')}, {machine.get('cpu_count_logical', '?')} "
        f"CPUs, {machine.get('os', '?')}",
    }


def report_text(
    run_info: dict[str, Any],
    records: Sequence[TrialRecord],
    cells: Sequence[CellStats],
    table_format: str = "github",
) -> str:
    sets = sorted({c.deps for c in cells})
    parts = [
        f"# ci-cache-bench results: run {run_info.get('run_id', '?')}\n",
        _metadata(run_info, records),
    ]
    parts.append("## What the numbers say\n")
    for deps in sets:
        parts.append(_findings(cells, deps))
    parts.append("## The podium of each set\n")
    parts += [f"- {line}" for line in podium_lines(records)]
    parts.append(
        "\nNeighbours are told apart by the 95 % bootstrap interval of the ratio of their "
        f"medians: above 1, *faster than*; within ±{stopping.TIE:.0%}, *ties with*; otherwise "
        "they are *not yet told apart*, and the podium is not settled.\n"
    )
    cost = settling_cost(records)
    if cost.pairs:
        parts.append(
            f"Telling apart the {cost.pairs} pair(s) not yet told apart would take "
            f"{_cost_words(cost)} on this machine at their medians and spread so far (a rough "
            "guide, within a factor of two: `stopping.trials_to_tell_apart`).\n"
        )
    for deps in sets:
        parts.append(f"## {deps}\n")
        table = tables.set_table(cells, deps, table_format)
        parts.append(table if table_format in ("github", "html") else f"```\n{table}\n```")
        parts.append(
            "\nTimes are medians in seconds (total: median and IQR); speed-up is "
            f"{REFERENCE}'s {REFERENCE_STATE} median over the row's median, with a 95 % "
            f"bootstrap interval; n is the number of successful trials, and a cell with fewer "
            f"than {MIN_TRIALS} gets no interval ([—]).\n"
        )
        parts.append(f"![{deps}: time per phase](figures/phases-{deps}.png)\n")
    parts.append("## Across sets\n")
    parts.append("![Speed-up of each scenario on each set, per state](figures/speedup.png)\n")
    parts.append("![Archive size against restore time](figures/archive-vs-restore.png)\n")
    parts.append("## Common advice, tested\n")
    for claim in evaluate_claims(cells):
        parts.append(f"- **{claim.text}** Verdict: **{claim.verdict}**.")
        parts += [f"  - {line}" for line in claim.evidence]
    parts.append("")
    stopped = run_info.get("stopping") or {}
    if stopped:
        parts.append("## Why each cell stopped\n")
        by_reason: dict[str, list[str]] = {}
        for cell_id, reason in sorted(stopped.items()):
            by_reason.setdefault(reason, []).append(cell_id)
        if len(by_reason) == 1:
            parts.append(f"Every cell: **{next(iter(by_reason))}**.")
        else:
            parts += [f"- **{reason}**: {', '.join(ids)}" for reason, ids in by_reason.items()]
        parts.append("")
    run_warnings = summary_warnings(run_info, records, cells)
    warnings = [(c, w) for c in cells for w in c.warnings]
    if warnings or run_warnings:
        parts.append("## Warnings\n")
        parts += [f"- {w}" for w in run_warnings]
        parts += [f"- {c.deps} / {c.scenario} / {c.state}: {w}" for c, w in warnings]
        parts.append("")
    return "\n".join(parts) + "\n"


def _metadata(run_info: dict[str, Any], records: Sequence[TrialRecord]) -> str:
    machine = run_info.get("machine", {})
    tools = machine.get("tools", {})
    profile = run_info.get("profile", {})
    harness = run_info.get("harness", {})
    plan = run_info.get("plan", {})
    failed = sum(not r.succeeded for r in records)
    rows = [
        ("date", run_info.get("started_at", "?")),
        ("status", f"{run_info.get('status', '?')}: {len(records)} trials, {failed} failed"),
        (
            "machine",
            f"{machine.get('cpu_model', '?')}, {machine.get('cpu_count_logical', '?')} "
            f"CPUs, {machine.get('memory_bytes', 0) / 2**30:.0f} GiB, {machine.get('os', '?')}",
        ),
        ("Python (harness)", machine.get("python_harness", "?")),
        (
            "tools",
            ", ".join(
                f"{k} {v}" for k, v in sorted(tools.items()) if k in ("poetry", "pipenv", "uv")
            ),
        ),
        (
            "network profile",
            f"{profile.get('name', '?')}: index {profile.get('index_mb_per_s', '?')} MB/s, "
            f"+{profile.get('index_latency_ms', '?')} ms; cache restore "
            f"{profile.get('restore_mib_per_s', '?')} MiB/s",
        ),
        ("repetitions, seed", f"{_repetitions(plan, records)}, {plan.get('seed', '?')}"),
        ("wall time", _minutes(run_info.get("wall_s"))),
        ("harness's own cost per trial", _spread([r.harness_fraction for r in records])),
        ("CPU used by other processes per trial", _spread([r.machine_busy for r in records])),
        (
            "harness commit",
            f"{harness.get('commit', '?')}"
            + (" (with local changes)" if harness.get("dirty") else ""),
        ),
    ]
    stood_in = sorted(
        {f"{s.uses} ({r.scenario})" for r in records for s in r.steps if s.stand_in}
        | {
            f"{s.uses} ({r.scenario}): {what}"
            for r in records
            for s in r.steps
            for what in s.substitutions
        }
    )
    # no-ops for actions that touch no dependencies (upload, publish, report…), and what the
    # machine put in place of what a step asked (a newer Python than any here…)
    if stood_in:
        rows.append(("steps stood in for", ", ".join(stood_in)))
    lines = ["| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def _minutes(seconds: float | None) -> str:
    if not seconds:
        return "?"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _spread(shares: Sequence[float | None]) -> str:
    """Median and highest of per-trial shares of the wall time (or of the CPU)."""
    known = [s for s in shares if s is not None]
    if not known:
        return "not recorded"
    return f"median {statistics.median(known):.1%}, highest {max(known):.1%} ({len(known)} trials)"


def interval_words(s: Interval) -> str:
    if s.low is None or s.high is None:
        return f"{s.estimate:.2f}x; {s.why_unbounded()}"
    return f"{s.estimate:.2f}x, 95 % interval {s.low:.2f}-{s.high:.2f}x"


def _findings(cells: Sequence[CellStats], deps: str) -> str:
    mine = [c for c in cells if c.deps == deps and c.total is not None]
    base = next((c for c in mine if c.cell.is_reference), None)
    if base is None or base.total is None:
        return f"- **{deps}**: no {REFERENCE} baseline in this run.\n"
    lines = []
    warm = [c for c in mine if c.state == "warm" and c.speedup is not None]
    if warm:
        best = max(warm, key=lambda c: c.speedup.estimate if c.speedup else 0)
        assert best.speedup is not None and best.total is not None
        lines.append(
            f"- **{deps}**: with a warm cache, **{best.scenario}** is fastest: "
            f"{best.total.median:.1f} s (n={best.n}) against {base.total.median:.1f} s "
            f"(n={base.n}) without a cache ({interval_words(best.speedup)})."
        )
    penalties = [
        (c.scenario, c.total.median - base.total.median, c.n)
        for c in mine
        if c.state == REFERENCE_STATE and not c.cell.is_reference and c.total is not None
    ]
    if penalties:
        listed = ", ".join(
            f"{name} {delta:+.1f} s (n={n})"
            for name, delta, n in sorted(penalties, key=lambda p: p[1])
        )
        lines.append(f"  - A cold run against no cache: {listed}.")
    restores = [c for c in mine if c.state != "cold" and c.archive_bytes and c.phases]
    if restores:
        biggest = max(restores, key=lambda c: c.archive_bytes or 0)
        lines.append(
            f"  - The largest cache restored is {biggest.scenario}'s "
            f"({(biggest.archive_bytes or 0) / 1e6:.0f} MB compressed); restoring it takes "
            f"{biggest.phases['restore'].median:.1f} s (median of {biggest.n})."
        )
    return "\n".join(lines) + "\n"


def _repetitions(plan: dict, records: Sequence[TrialRecord]) -> str:
    if not plan.get("auto"):
        return str(plan.get("reps", "?"))
    rounds = max((r.repetition for r in records), default=0)
    budget = plan.get("budget_min")
    within = f" within {budget:g} min" if budget else ""
    return f"auto{within} ({rounds} round{'s' if rounds != 1 else ''} ran)"

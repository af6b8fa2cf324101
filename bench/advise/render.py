"""recommendation.md: the answer first, then the evidence, what was skipped and the caveats."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from tabulate import tabulate

from bench.advise.candidates import Skipped
from bench.advise.recommend import CandidateTimes, Verdict

STATES_SHOWN = ("cold", "warm", "partial")


@dataclass(frozen=True)
class Advice:
    project: str
    baseline: str  # the team's own job's candidate name
    candidates: list[CandidateTimes]
    verdict: Verdict | None  # None when no candidate could be ranked
    skipped: list[Skipped]
    failures: dict[str, str]  # candidate -> why its trials failed (log tail)
    archive_mb: dict[str, float]
    runs_per_month: float
    uncertain: list[str]  # cells the budget stopped before they settled
    caveats: list[str]
    recommended_file: str | None  # recommended.yml, when written
    lint_findings: list[str]
    # Candidates the budget stopped before they ran in every state their hit rates need.
    unfinished: list[str] = field(default_factory=list)
    # Candidates stopped after their first trials, far behind the leaders (bench.stopping).
    behind: list[str] = field(default_factory=list)


def render(advice: Advice) -> str:
    parts = [f"# Caching advice for {advice.project}\n", _answer(advice), _table(advice)]
    if advice.behind:
        parts.append(
            f"Stopped early, far behind the leaders (an expected time from each state's "
            f"fastest trial still over 1.5x the leaders' from their slowest, so no interval is "
            f"needed to rank them behind): "
            f"{', '.join(advice.behind)}.\n"
        )
    if advice.skipped:
        rows = [(s.name, s.reason) for s in advice.skipped]
        parts.append("## Not tried\n\n" + tabulate(rows, ["strategy", "why"], "github") + "\n")
    if advice.failures:
        lines = ["## Failed here\n"]
        for name, tail in sorted(advice.failures.items()):
            lines.append(f"**{name}**:\n\n```\n{tail.rstrip()}\n```\n")
        parts.append("\n".join(lines))
    if advice.uncertain:
        parts.append(
            "## Still uncertain when the budget ran out\n\n"
            + "".join(f"- {cell}\n" for cell in advice.uncertain)
        )
    parts.append("## Caveats\n\n" + "".join(f"- {c}\n" for c in advice.caveats))
    return "\n".join(parts)


def _answer(advice: Advice) -> str:
    verdict = advice.verdict
    if verdict is None and advice.unfinished:
        return (
            "**No recommendation yet**: the budget ran out before "
            f"{', '.join(advice.unfinished)} ran in every state their hit rates need, so "
            "ranking the others would favour whatever finished first. Run again with a larger "
            "`--budget` (the table shows what was measured).\n"
        )
    if verdict is None:
        return "**No recommendation**: no candidate ran in every state its hit rates need.\n"
    lines = []
    if verdict.winner == advice.baseline:
        lines.append(f"**Keep your job's caching** ({verdict.winner}): nothing tried beats it.")
    elif verdict.saving_unsure:
        lines.append(
            f"**Keep your job's caching for now.** {verdict.winner} is ahead of it, but the "
            "95 % interval of what it saves includes 0 (below); a larger `--budget` would tell."
        )
    else:
        lines.append(f"**Use {verdict.winner}.**")
    if verdict.significant is None:
        lines.append(
            "How sure: not enough trials (fewer than 3 in a state) for an interval; "
            "treat the ranking as a first look."
        )
    elif verdict.significant:
        ratio = verdict.ratio
        assert ratio is not None
        lines.append(
            f"It is faster than the runner-up, {verdict.runner_up}, by {ratio.estimate:.2f}x "
            f"(95 % interval {ratio.low:.2f}-{ratio.high:.2f}x)."
        )
    elif verdict.runner_up is not None and verdict.ratio is not None:
        ratio = verdict.ratio
        if verdict.tied:
            how = f"It ties with {verdict.runner_up}: their expected times are within ±5 %"
        else:
            how = f"It is not yet told apart from {verdict.runner_up}: more `--budget` would tell"
        lines.append(
            f"{how} (ratio {ratio.estimate:.2f}x, 95 % interval {ratio.low:.2f}-"
            f"{ratio.high:.2f}x), so choose the simpler of the two."
        )
    saving = verdict.saving
    if saving is not None and verdict.winner != advice.baseline:
        per_month = saving.estimate * advice.runs_per_month / 60
        cadence = (
            f"about {per_month:.1f} CI minutes a month at your history's "
            f"{advice.runs_per_month:.1f} runs a month"
            if advice.runs_per_month
            else "your history is too short to tell runs a month"
        )
        lines.append(
            f"Against your current job it saves {saving.estimate:.1f} s per run "
            f"(95 % interval {saving.low:.1f} to {saving.high:.1f} s), {cadence}."
        )
    if advice.recommended_file:
        lint = (
            "passes actionlint"
            if not advice.lint_findings
            else "actionlint finds: " + ("; ".join(advice.lint_findings))
        )
        what = "to try" if verdict.saving_unsure else "to paste"
        lines.append(f"The job {what} is in `{advice.recommended_file}` ({lint}).")
    return "\n\n".join(lines) + "\n"


def _table(advice: Advice) -> str:
    ranked = sorted(
        advice.candidates,
        key=lambda c: (bool(c.missing_states()), c.expected() if not c.missing_states() else 0),
    )
    rows = []
    for candidate in ranked:
        rates = candidate.rates
        expected = "—" if candidate.missing_states() else f"{candidate.expected():.1f}"
        medians = [
            f"{statistics.median(candidate.totals[s]):.1f} (n={len(candidate.totals[s])})"
            if candidate.totals.get(s)
            else "—"
            for s in STATES_SHOWN
        ]
        size = advice.archive_mb.get(candidate.name)
        rows.append(
            [
                "your job" if candidate.name == advice.baseline else candidate.name,
                expected,
                f"{rates.exact:.0%} / {rates.partial:.0%} / {rates.miss:.0%}",
                *medians,
                "—" if size is None else f"{size:.0f}",
            ]
        )
    headers = [
        "candidate", "expected s/run", "exact / partial / miss", "cold s", "warm s",
        "partial s", "archive MB",
    ]  # fmt: skip
    return "## Candidates by expected time\n\n" + tabulate(rows, headers, "github") + "\n"

"""The model's refinements, never on by default: scheduled runs and pull requests.

- ``--schedule daily``: a cron run every day at 00:00 UTC between the first and the last push,
  on the branch, with the keys of the newest push strictly before it. It reads (so keeps alive) and
  saves like any run; its outcomes are counted apart from the pushes'.
- ``--pull-requests``: for each merge on the branch's first-parent line, the second parent's
  first-parent commits since the merge base are runs of one pull request, in its own scope,
  which reads its own entries and then the branch's; what it saves only it can see.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.history.evaluate import StepKeys, evaluate_history
from bench.history.gitlog import BlobReader, History, Run, log_runs, merge_base
from bench.history.outcomes import Event
from bench.history.replay import MAIN_SCOPE
from bench.history.strategy import Strategy

DAY = 86400


def scheduled_events(
    runs: Sequence[Run], keys: dict[str, list[tuple[StepKeys, ...]]], every: str = "daily"
) -> list[Event]:
    if every != "daily":
        raise ValueError(every)
    events: list[Event] = []
    if not runs:
        return events
    last = max(r.time for r in runs)
    moment = (runs[0].time // DAY + 1) * DAY
    newest = 0
    while moment <= last:
        while newest + 1 < len(runs) and runs[newest + 1].time < moment:
            newest += 1
        chosen = {name: per_run[newest] for name, per_run in keys.items()}
        events.append(Event(moment, runs[newest].commit, "schedule", (MAIN_SCOPE,), chosen))
        moment += DAY
    return events


def pull_request_events(
    history: History, strategies: list[Strategy], blobs: BlobReader
) -> list[Event]:
    events: list[Event] = []
    number = 0
    for run in history.runs:
        if len(run.parents) < 2:
            continue
        base = merge_base(history.repo, run.parents[0], run.parents[1])
        if base is None:
            continue
        commits = log_runs(history.repo, f"{base}..{run.parents[1]}")
        if not commits:
            continue
        number += 1
        scope = f"pull/{number}"
        line = History(repo=history.repo, branch=scope, runs=commits)
        keys = evaluate_history(strategies, line, blobs)
        for index, commit in enumerate(commits):
            chosen = {name: per_run[index] for name, per_run in keys.items()}
            events.append(
                Event(commit.time, commit.commit, "pull_request", (scope, MAIN_SCOPE), chosen)
            )
    return events

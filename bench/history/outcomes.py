"""A strategy replayed over the runs: the outcome of each run and the counts the report gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.history.evaluate import StepKeys
from bench.history.gitlog import Run
from bench.history.replay import EXACT, MAIN_SCOPE, MISS, PARTIAL, Store, run_step, worst


@dataclass(frozen=True)
class RunOutcome:
    time: int
    commit: str
    outcome: str | None  # exact, partial, miss (None: no cache step ran)
    store_bytes: int  # the store's total after the run


@dataclass
class Replay:
    """One strategy over one history."""

    name: str
    entry_bytes: int
    limit_bytes: int
    timeline: list[RunOutcome] = field(default_factory=list)
    distinct_keys: int = 0
    saves: int = 0
    evicted_age: int = 0
    evicted_size: int = 0
    peak_bytes: int = 0
    no_key: int = 0  # runs where a step computed no key (setup-python with no files): misses
    hashed_nothing: int = 0  # runs where a key's hashFiles() matched no file
    failed: int = 0  # runs where hashFiles() failed (the job fails: a miss, nothing saved)
    failure: str = ""  # the first such failure's message
    step_counts: list[dict[str, int]] = field(default_factory=list)
    extra: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> counts

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.timeline if r.outcome == outcome)

    @property
    def runs(self) -> int:
        return sum(1 for r in self.timeline if r.outcome is not None)

    def rate(self, outcome: str) -> float:
        return self.count(outcome) / self.runs if self.runs else 0.0

    @property
    def span_seconds(self) -> int:
        times = [r.time for r in self.timeline]
        return max(times) - min(times) if times else 0

    def summary(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "exact": self.count(EXACT),
            "partial": self.count(PARTIAL),
            "miss": self.count(MISS),
            "exact_rate": round(self.rate(EXACT), 4),
            "partial_rate": round(self.rate(PARTIAL), 4),
            "miss_rate": round(self.rate(MISS), 4),
            "distinct_keys_saved": self.distinct_keys,
            "saves": self.saves,
            "evicted_by_age": self.evicted_age,
            "evicted_by_size": self.evicted_size,
            "peak_store_bytes": self.peak_bytes,
            "entry_bytes": self.entry_bytes,
            "runs_without_key": self.no_key,
            "runs_hashing_nothing": self.hashed_nothing,
            "runs_failing": self.failed,
            "first_failure": self.failure,
            "steps": self.step_counts,
        } | {kind: counts for kind, counts in self.extra.items()}


@dataclass(frozen=True)
class Event:
    """A run that is not a push to the branch (``--schedule``, ``--pull-requests``)."""

    time: int
    commit: str
    kind: str  # "schedule" or "pull_request"
    scopes: tuple[str, ...]  # the run's own scope first
    keys: dict[str, tuple[StepKeys, ...]]  # strategy name -> its steps' keys


def replay_strategies(
    named_keys: dict[str, list[tuple[StepKeys, ...]]],
    runs: Sequence[Run],
    sizes: dict[str, int],
    limit_bytes: int,
    shared: bool = False,
    extra: Sequence[Event] = (),
) -> dict[str, Replay]:
    """Each strategy in its own store, or (``shared``) all in one store, event by event.

    Pushes make the timeline and the counts; ``extra`` runs (scheduled, pull requests) use and
    fill the same store, and are counted apart.
    """
    stores = {name: Store(limit_bytes) for name in named_keys}
    if shared:
        one = Store(limit_bytes)
        stores = dict.fromkeys(named_keys, one)
    replays = {name: Replay(name, sizes[name], limit_bytes) for name in named_keys}
    saved: dict[str, set[str]] = {name: set() for name in named_keys}
    pushes = [
        Event(run.time, run.commit, "push", (MAIN_SCOPE,), {n: k[i] for n, k in named_keys.items()})
        for i, run in enumerate(runs)
    ]
    # Stable: at the same second, extra runs (a PR's last commit, a cron) come before the push.
    events = sorted([*extra, *pushes], key=lambda e: (e.time, e.kind == "push"))
    for event in events:
        touched = set()
        for name in named_keys:
            store = stores[name]
            if id(store) not in touched:
                store.expire(event.time)
                touched.add(id(store))
            replay = replays[name]
            steps = event.keys[name]
            outcome = _run(store, steps, event, sizes[name], replay, saved[name])
            if event.kind == "push":
                replay.timeline.append(RunOutcome(event.time, event.commit, outcome, store.total))
            elif outcome is not None:
                counts = replay.extra.setdefault(
                    event.kind, {"runs": 0, EXACT: 0, PARTIAL: 0, MISS: 0}
                )
                counts["runs"] += 1
                counts[outcome] += 1
    for name, replay in replays.items():
        store = stores[name]
        replay.distinct_keys = len(saved[name])
        replay.evicted_age = store.evicted_age
        replay.evicted_size = store.evicted_size
        replay.peak_bytes = store.peak
    return replays


def _run(
    store: Store,
    steps: tuple[StepKeys, ...],
    event: Event,
    size: int,
    replay: Replay,
    saved: set[str],
) -> str | None:
    push = event.kind == "push"
    if push and not replay.step_counts:
        replay.step_counts = [{EXACT: 0, PARTIAL: 0, MISS: 0} for _ in steps]
    outcomes = []
    before = store.saves
    if push and any(k.hashed_nothing for k in steps):
        replay.hashed_nothing += 1
    failures = [k.failure for k in steps if k.failure]
    if push and failures:
        replay.failed += 1
        replay.failure = replay.failure or failures[0]
    for number, keys in enumerate(steps):
        outcome = run_step(store, keys, event.time, size, event.scopes)
        outcomes.append(outcome)
        if push and outcome is not None:
            replay.step_counts[number][outcome] += 1
        if keys.primary is None and keys.restores:
            replay.no_key += push
        elif keys.primary is not None and store.saves > before:
            saved.add(keys.primary)
            before = store.saves
            replay.saves += 1
    return worst(outcomes)

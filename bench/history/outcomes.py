"""A strategy replayed over the runs: the outcome of each run and the counts the report gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.history.evaluate import StepKeys
from bench.history.gitlog import Run
from bench.history.replay import EXACT, MISS, PARTIAL, Store, run_step, worst


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
    step_counts: list[dict[str, int]] = field(default_factory=list)

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
            "steps": self.step_counts,
        }


def replay_strategies(
    named_keys: dict[str, list[tuple[StepKeys, ...]]],
    runs: Sequence[Run],
    sizes: dict[str, int],
    limit_bytes: int,
    shared: bool = False,
) -> dict[str, Replay]:
    """Each strategy in its own store, or (``shared``) all in one store, run by run."""
    stores = {name: Store(limit_bytes) for name in named_keys}
    if shared:
        one = Store(limit_bytes)
        stores = dict.fromkeys(named_keys, one)
    replays = {name: Replay(name, sizes[name], limit_bytes) for name in named_keys}
    saved: dict[str, set[str]] = {name: set() for name in named_keys}
    for index, run in enumerate(runs):
        touched = set()
        for name, per_run in named_keys.items():
            store = stores[name]
            if id(store) not in touched:
                store.expire(run.time)
                touched.add(id(store))
            replay = replays[name]
            steps = per_run[index]
            if not replay.step_counts:
                replay.step_counts = [{EXACT: 0, PARTIAL: 0, MISS: 0} for _ in steps]
            outcomes = []
            before = store.saves
            if any(k.hashed_nothing for k in steps):
                replay.hashed_nothing += 1
            for number, keys in enumerate(steps):
                outcome = run_step(store, keys, run.time, sizes[name])
                outcomes.append(outcome)
                if outcome is not None:
                    replay.step_counts[number][outcome] += 1
                if keys.primary is None and keys.restores:
                    replay.no_key += 1
                elif keys.primary is not None and store.saves > before:
                    saved[name].add(keys.primary)
                    before = store.saves
                    replay.saves += 1
            replay.timeline.append(RunOutcome(run.time, run.commit, worst(outcomes), store.total))
    for name, replay in replays.items():
        store = stores[name]
        replay.distinct_keys = len(saved[name])
        replay.evicted_age = store.evicted_age
        replay.evicted_size = store.evicted_size
        replay.peak_bytes = store.peak
    return replays

"""The store model of ``shared/spec/history-replay.md``: 7-day idle expiry, actions/cache's
lookup, a save after every run that was not exact, LRU eviction over the limit.

Entries are identified by (version, key): the version stands for the step's paths, so two steps
with other paths never match each other's entries (one store per strategy unless shared).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.history.evaluate import StepKeys

IDLE_SECONDS = 7 * 86400
EXACT, PARTIAL, MISS = "exact", "partial", "miss"
OUTCOMES = (EXACT, PARTIAL, MISS)


MAIN_SCOPE = "branch"


@dataclass
class StoreEntry:
    key: str
    version: str
    scope: str
    created: int
    accessed: int
    size: int
    order: int  # save order: the newest of entries created in the same second wins


@dataclass
class Store:
    limit: int
    entries: list[StoreEntry] = field(default_factory=list)
    evicted_age: int = 0
    evicted_size: int = 0
    saves: int = 0
    peak: int = 0
    _order: int = 0

    @property
    def total(self) -> int:
        return sum(e.size for e in self.entries)

    def expire(self, now: int) -> None:
        """Entries not accessed for more than 7 days are gone before a run at ``now``."""
        kept = [e for e in self.entries if now - e.accessed <= IDLE_SECONDS]
        self.evicted_age += len(self.entries) - len(kept)
        self.entries = kept

    def lookup(
        self, keys: StepKeys, now: int, scopes: tuple[str, ...] = (MAIN_SCOPE,)
    ) -> StoreEntry | None:
        """actions/cache's lookup: scopes in order, then per key in order, exact
        (case-insensitive) before prefix; the newest created wins."""
        assert keys.primary is not None
        for scope in scopes:
            candidates = [e for e in self.entries if e.version == keys.version and e.scope == scope]
            for wanted in (keys.primary, *keys.restore):
                folded = wanted.casefold()
                exact = [e for e in candidates if e.key.casefold() == folded]
                found = exact or [e for e in candidates if e.key.casefold().startswith(folded)]
                if found:
                    entry = max(found, key=lambda e: (e.created, e.order))
                    entry.accessed = now
                    return entry
        return None

    def has(self, key: str, version: str, scope: str = MAIN_SCOPE) -> bool:
        folded = key.casefold()
        return any(
            e.version == version and e.scope == scope and e.key.casefold() == folded
            for e in self.entries
        )

    def save(self, key: str, version: str, now: int, size: int, scope: str = MAIN_SCOPE) -> None:
        self._order += 1
        saved = StoreEntry(key, version, scope, now, now, size, self._order)
        self.entries.append(saved)
        self.saves += 1
        while self.total > self.limit and len(self.entries) > 1:
            victim = min(
                (e for e in self.entries if e is not saved), key=lambda e: (e.accessed, e.order)
            )
            self.entries.remove(victim)
            self.evicted_size += 1
        self.peak = max(self.peak, self.total)


def run_step(
    store: Store, keys: StepKeys, now: int, size: int, scopes: tuple[str, ...] = (MAIN_SCOPE,)
) -> str | None:
    """One cache step at one run: its outcome (None for a step that only saves or is skipped).

    ``scopes`` are searched in order; a save goes to the first (the run's own ref)."""
    if keys.primary is None:
        return MISS if keys.restores else None
    outcome: str | None = None
    if keys.restores:
        entry = store.lookup(keys, now, scopes)
        if entry is None:
            outcome = MISS
        elif entry.key.casefold() == keys.primary.casefold():
            outcome = EXACT
        else:
            outcome = PARTIAL
    if keys.saves and outcome != EXACT and not store.has(keys.primary, keys.version, scopes[0]):
        store.save(keys.primary, keys.version, now, size, scopes[0])
    return outcome


def worst(outcomes: list[str | None]) -> str | None:
    """A job's outcome with several cache steps: the worst of them (miss < partial < exact)."""
    present = [o for o in outcomes if o is not None]
    if not present:
        return None
    return max(present, key=OUTCOMES.index)

"""The words every room shares: phases, cache states, the reference scenario, a cell's identity.

This module imports nothing from the project, so the plan, the runner, the records, the
statistics and the report can all use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

PHASES = ("restore", "setup", "install", "test", "save")  # a trial's time, split
STATES = ("cold", "warm", "partial")  # the cache states a trial starts from
REFERENCE_SCENARIO = "no-cache"  # speed-ups are against this scenario...
REFERENCE_STATE = "cold"  # ...in this state, on the same dependency set


@dataclass(frozen=True, order=True)
class Cell:
    """What a trial measures: one scenario on one dependency set from one cache state.

    Ordered by set, scenario, then state name; ``sort_key`` orders states naturally.
    """

    deps: str
    scenario: str
    state: str

    @property
    def id(self) -> str:
        """``scenario/set/state``, the prefix of a trial's id."""
        return f"{self.scenario}/{self.deps}/{self.state}"

    @property
    def is_reference(self) -> bool:
        return self.scenario == REFERENCE_SCENARIO and self.state == REFERENCE_STATE

    def reference(self) -> Cell:
        """The cell this one's speed-up is measured against."""
        return Cell(self.deps, REFERENCE_SCENARIO, REFERENCE_STATE)

    def sort_key(self) -> tuple[str, str, int]:
        """Set, scenario, then states in their natural order (cold, warm, partial)."""
        rank = STATES.index(self.state) if self.state in STATES else len(STATES)
        return self.deps, self.scenario, rank

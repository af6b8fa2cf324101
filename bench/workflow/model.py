"""A workflow's one job, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Step:
    index: int  # 1-based, as the step's position in the job
    name: str | None
    id: str | None
    uses: str | None
    run: str | None
    with_: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    if_: str | None = None
    shell: str | None = None
    working_directory: str | None = None
    continue_on_error: bool | str = False

    @property
    def label(self) -> str:
        """How errors and records name the step."""
        if self.name:
            return self.name
        if self.uses:
            return f"Run {self.uses}"
        first = (self.run or "").strip().splitlines()
        return f"Run {first[0]}" if first else f"step {self.index}"


@dataclass(frozen=True)
class Workflow:
    path: Path
    name: str
    job_name: str
    env: dict[str, str]
    job_env: dict[str, str]
    steps: list[Step]
    matrix: dict[str, object] = field(default_factory=dict)
    default_shell: str | None = None
    default_working_directory: str | None = None

"""What a job's run leaves behind: one record per step (main and post), and the job's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepRecord:
    index: int
    name: str
    stage: str  # "main" or "post"
    uses: str | None  # as written in the workflow
    phase: str
    outcome: str  # success, failure, skipped
    duration_ns: int = 0
    phases_ns: dict[str, int] = field(default_factory=dict)
    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    peak_rss_bytes: int | None = None
    mirror_requests: int = 0
    mirror_bytes: int = 0
    mirror_files: int = 0
    cache: dict[str, Any] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    stand_in: bool = False  # an action stood in for by a no-op (see registry.STAND_INS)
    part_of: str | None = None  # the local composite action this step belongs to


@dataclass
class JobResult:
    success: bool
    steps: list[StepRecord]
    outputs: dict[str, dict[str, str]]
    error: str | None = None  # the first failure, for the record

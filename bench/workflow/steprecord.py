"""What a job's run leaves behind: its steps' records (``bench.results.StepRecord``) and result."""

from __future__ import annotations

from dataclasses import dataclass

from bench.results import StepRecord


@dataclass
class JobResult:
    success: bool
    steps: list[StepRecord]
    outputs: dict[str, dict[str, str]]
    error: str | None = None  # the first failure, for the record

"""``check-workflow``: for each job of each file, whether the harness can run it here, and
every construct that blocks it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from bench.workflow.parse import check_file


@dataclass(frozen=True)
class JobVerdict:
    file: str  # the path as given
    job: str
    runnable: bool
    blockers: list[str]
    notes: list[str] = field(default_factory=list)  # what stands in when it runs

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "job": self.job,
            "runnable": self.runnable,
            "blockers": self.blockers,
            "notes": self.notes,
        }


def check_files(files: list[str]) -> list[JobVerdict]:
    """Verdicts for every job; a ``WorkflowError`` when a file cannot be read or is not YAML."""
    verdicts = []
    for text in files:
        for job in check_file(Path(text)):
            verdicts.append(
                JobVerdict(text, job.job, job.runnable, list(job.blockers), list(job.notes))
            )
    return verdicts


def render_json(verdicts: list[JobVerdict]) -> str:
    return json.dumps([v.to_json() for v in verdicts], indent=2)


def render_table(verdicts: list[JobVerdict]) -> str:
    """One row per job; further blockers and notes on the lines below it."""
    rows = []
    for verdict in verdicts:
        blockers, notes = verdict.blockers, verdict.notes
        for i in range(max(1, len(blockers), len(notes))):
            first = i == 0
            rows.append(
                [
                    verdict.file if first else "",
                    verdict.job if first else "",
                    ("yes" if verdict.runnable else "no") if first else "",
                    blockers[i] if i < len(blockers) else "",
                    notes[i] if i < len(notes) else "",
                ]
            )
    runnable = sum(v.runnable for v in verdicts)
    table = tabulate(rows, headers=["file", "job", "runnable", "blockers", "notes"])
    return f"{table}\n\n{runnable} of {len(verdicts)} job(s) can run here"

"""``check-workflow``: for each job of each file, whether the harness can run it here, and
every construct that blocks it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from bench.workflow.parse import check_file


@dataclass(frozen=True)
class JobVerdict:
    file: str  # the path as given
    job: str
    runnable: bool
    blockers: list[str]

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "job": self.job,
            "runnable": self.runnable,
            "blockers": self.blockers,
        }


def check_files(files: list[str]) -> list[JobVerdict]:
    """Verdicts for every job; a ``WorkflowError`` when a file cannot be read or is not YAML."""
    verdicts = []
    for text in files:
        for job in check_file(Path(text)):
            verdicts.append(JobVerdict(text, job.job, job.runnable, list(job.blockers)))
    return verdicts


def render_json(verdicts: list[JobVerdict]) -> str:
    return json.dumps([v.to_json() for v in verdicts], indent=2)


def render_table(verdicts: list[JobVerdict]) -> str:
    rows = []
    for verdict in verdicts:
        blockers = verdict.blockers or [""]
        rows.append([verdict.file, verdict.job, "yes" if verdict.runnable else "no", blockers[0]])
        rows += [["", "", "", line] for line in blockers[1:]]
    runnable = sum(v.runnable for v in verdicts)
    table = tabulate(rows, headers=["file", "job", "runnable", "blockers"])
    return f"{table}\n\n{runnable} of {len(verdicts)} job(s) can run here"

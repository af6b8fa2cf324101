"""Helpers the test modules share (fixtures live in conftest.py): files, hashes, records, runs.

Test modules import from here, never from one another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from pathlib import Path

from bench import results
from bench.results import TrialRecord

PROJECT = Path(__file__).resolve().parents[1]


def write(path: Path, content: str | bytes = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def expected_hash(*files: Path) -> str:
    """The runner's hash of these files in this order, computed independently."""
    outer = hashlib.sha256()
    for file in files:
        outer.update(hashlib.sha256(file.read_bytes()).digest())
    return outer.hexdigest() if files else ""


_order = iter(range(1, 10_000))


_order = itertools.count(1)


def record(scenario, state, seconds, order, status="success", deps="cli", **more) -> TrialRecord:
    """One trial: 3/4 of its time installing, 1/4 testing."""
    return TrialRecord(
        trial_id=f"{scenario}/{deps}/{state}/{order}",
        deps=deps,
        scenario=scenario,
        state=state,
        order=order,
        status=status,
        total_ns=int(seconds * 1e9),
        phases_ns={"install": int(seconds * 1e9 * 0.75), "test": int(seconds * 1e9 * 0.25)},
        restored_archive_bytes=100 if state == "warm" else 0,
        saved_archive_bytes=200 if state == "cold" else 0,
        mirror_bytes=1000 if state == "cold" else 0,
        harness_fraction=0.01,
        **more,
    )


def trials(deps, scenario, state, install, total=None, archive=0, n=3) -> list[TrialRecord]:
    """``n`` identical trials of one cell; the rest of ``total`` beyond ``install`` is testing."""
    total = total if total is not None else install + 2.0
    records = []
    for _ in range(n):
        order = next(_order)
        records.append(
            TrialRecord(
                trial_id=f"{scenario}/{deps}/{state}/{order}",
                deps=deps,
                scenario=scenario,
                state=state,
                order=order,
                status="success",
                total_ns=int(total * 1e9),
                phases_ns={"install": int(install * 1e9), "test": int((total - install) * 1e9)},
                restored_archive_bytes=archive,
                harness_fraction=0.01,
            )
        )
    return records


RUN_INFO = {
    "schema": 1,
    "run_id": "test-run",
    "status": "complete",
    "started_at": "2026-11-23T00:00:00",
    "machine": {
        "cpu_model": "Test CPU",
        "cpu_count_logical": 2,
        "os": "Linux",
        "memory_bytes": 2**34,
        "tools": {"uv": "0.1"},
    },
    "profile": {"name": "github-hosted"},
    "plan": {"reps": 3, "seed": 9},
    "harness": {"commit": "abc", "dirty": False},
}


def make_run(folder, records):
    """A run folder with ``records`` as its trials and a fixed run.json."""
    folder.mkdir()
    results.write_json_atomically(folder / "run.json", RUN_INFO)
    for number, record in enumerate(records):
        results.append_trial(folder, dataclasses.replace(record, trial_id=f"t{number}"))
    return folder

"""Helpers the test modules share (fixtures live in conftest.py): files, hashes, records, runs.

Test modules import from here, never from one another.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench import results

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


def trials(deps, scenario, state, install, total=None, archive=0, n=3):
    total = total if total is not None else install + 2.0
    return [
        {
            "deps": deps,
            "scenario": scenario,
            "state": state,
            "order": next(_order),
            "status": "success",
            "total_ns": int(total * 1e9),
            "phases_ns": {"install": int(install * 1e9), "test": int((total - install) * 1e9)},
            "restored_archive_bytes": archive,
            "saved_archive_bytes": 0,
            "mirror_bytes": 0,
        }
        for _ in range(n)
    ]


def record(scenario, state, seconds, order, status="success", deps="cli"):
    return {
        "deps": deps,
        "scenario": scenario,
        "state": state,
        "order": order,
        "status": status,
        "total_ns": int(seconds * 1e9),
        "phases_ns": {"install": int(seconds * 1e9 * 0.75), "test": int(seconds * 1e9 * 0.25)},
        "restored_archive_bytes": 100 if state == "warm" else 0,
        "saved_archive_bytes": 200 if state == "cold" else 0,
        "mirror_bytes": 1000 if state == "cold" else 0,
        "trial_id": f"{scenario}/{deps}/{state}/{order}",
        "repetition": 1,
        "harness_fraction": 0.01,
        "cache_hit": [],
        "error": None,
    }


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
    folder.mkdir()
    results.write_json_atomically(folder / "run.json", RUN_INFO)
    for number, record in enumerate(records):
        record |= {
            "schema": 1,
            "trial_id": f"t{number}",
            "repetition": 1,
            "harness_fraction": 0.01,
            "cache_hit": [],
            "error": None,
        }
        results.append_trial(folder, record)
    return folder

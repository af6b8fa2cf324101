"""How long rendering takes: a synthetic run of 500 trials, rendered into a temporary folder.

The records are made up (seeded), shaped like real ones: four sets, the eight scenarios, their
states, six repetitions. The target is under 10 s for the report, CSVs and every figure.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from bench import results
from bench.report.render import render
from bench.results import TrialRecord
from bench.vocabulary import PHASES, REFERENCE_SCENARIO

SETS = ("cli", "web", "datascience", "native")
SCENARIOS = (
    REFERENCE_SCENARIO,
    "pip-cache",
    "venv-cache",
    "venv-cache-skip",
    "poetry",
    "pipenv",
    "setup-python-pip",
    "uv",
)
TARGET_S = 10.0


def synthetic_records(trials: int = 500, seed: int = 1) -> list[TrialRecord]:
    rng = random.Random(seed)
    cells = [
        (deps, scenario, state)
        for deps in SETS
        for scenario in SCENARIOS
        for state in (("cold",) if scenario == REFERENCE_SCENARIO else ("cold", "warm", "partial"))
    ]
    records = []
    for order in range(1, trials + 1):
        deps, scenario, state = cells[(order - 1) % len(cells)]
        phases = {p: int(rng.uniform(0.2, 20.0) * 1e9) for p in PHASES}
        records.append(
            TrialRecord(
                trial_id=f"{deps}/{scenario}/{state}/{order}",
                deps=deps,
                scenario=scenario,
                state=state,
                order=order,
                repetition=1 + (order - 1) // len(cells),
                status="success",
                total_ns=sum(phases.values()),
                phases_ns=phases,
                harness_fraction=0.02,
                mirror_bytes=rng.randrange(10**8),
                restored_archive_bytes=0 if state == "cold" else rng.randrange(10**8),
                saved_archive_bytes=rng.randrange(10**8) if state == "cold" else 0,
            )
        )
    return records


def synthetic_run(folder: Path, trials: int = 500) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    results.write_json_atomically(
        folder / results.RUN_FILE,
        {
            "schema": results.SCHEMA_VERSION,
            "run_id": "synthetic",
            "status": "complete",
            "machine": {"cpu_model": "synthetic", "cpu_count_logical": 2, "os": "synthetic"},
            "profile": {"name": "github-hosted"},
            "plan": {"reps": 6, "seed": 1},
            "harness": {},
        },
    )
    for record in synthetic_records(trials):
        results.append_trial(folder, record)
    return folder


def measure(trials: int = 500) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-report-speed-") as scratch:
        run = synthetic_run(Path(scratch) / "run", trials)
        started = time.perf_counter()
        render(run)
        return time.perf_counter() - started

"""Run records: atomic appends, truncated lines, and the run file."""

from __future__ import annotations

import json

import pytest

from bench import results
from bench.errors import BenchError
from bench.results import StepRecord, StepTotals, TrialRecord
from bench.vocabulary import Cell
from tests.helpers import record

# A line as schema 1 wrote it (every field; a restore step and a run step).
V1_LINE = {
    "schema": 1,
    "run_id": "20261123-220532-212fdc",
    "trial_id": "venv-cache/cli/warm/2",
    "scenario": "venv-cache",
    "workflow": "/x/scenarios/workflows/venv-cache.yml",
    "deps": "cli",
    "state": "warm",
    "repetition": 2,
    "order": 17,
    "started_at": "2026-11-23T22:31:02+00:00",
    "status": "success",
    "error": None,
    "total_ns": 7_500_000_000,
    "phases_ns": {
        "restore": 2_000_000_000,
        "setup": 0,
        "install": 5_500_000_000,
        "test": 0,
        "save": 0,
    },
    "wall_ns": 8_000_000_000,
    "prepare_ns": 10_000_000,
    "priming_ns": 0,
    "teardown_ns": 400_000_000,
    "harness_ns": 500_000_000,
    "harness_fraction": 0.0625,
    "mirror_bytes": 12,
    "mirror_requests": 1,
    "mirror_files": 0,
    "cache_hit": ["true"],
    "matched_keys": ["venv-Linux-abc"],
    "restored_archive_bytes": 2048,
    "saved_archive_bytes": 0,
    "cached_folder_bytes": 9000,
    "store_after": [{"key": "venv-Linux-abc", "size": 2048}],
    "steps": [
        {
            "index": 1,
            "name": "Cache venv",
            "stage": "main",
            "uses": "actions/cache@v4",
            "phase": "restore",
            "outcome": "success",
            "duration_ns": 2_000_000_000,
            "phases_ns": {"restore": 2_000_000_000},
            "cpu_user_s": 0.1,
            "cpu_system_s": 0.2,
            "peak_rss_bytes": None,
            "mirror_requests": 0,
            "mirror_bytes": 0,
            "mirror_files": 0,
            "cache": {
                "role": "restore",
                "key": "venv-Linux-abc",
                "paths": [".venv"],
                "matched_key": "venv-Linux-abc",
                "cache_hit": "true",
                "saved": False,
                "archive_bytes": 2048,
                "folder_bytes": 9000,
                "folder_files": 3,
            },
            "outputs": {"cache-hit": "true"},
            "error": None,
        },
        {
            "index": 2,
            "name": "Run pip install",
            "stage": "main",
            "uses": None,
            "phase": "install",
            "outcome": "success",
            "duration_ns": 5_500_000_000,
            "phases_ns": {"install": 5_500_000_000},
            "cpu_user_s": 1.5,
            "cpu_system_s": 0.5,
            "peak_rss_bytes": 1000,
            "mirror_requests": 1,
            "mirror_bytes": 12,
            "mirror_files": 0,
            "cache": None,
            "outputs": {},
            "error": None,
        },
    ],
}


def test_a_schema_1_line_reads_into_typed_records_and_keeps_every_field(tmp_path):
    (tmp_path / results.TRIALS_FILE).write_text(json.dumps(V1_LINE) + "\n")
    (trial,) = results.read_whole_trials(tmp_path)
    assert trial.cell == Cell("cli", "venv-cache", "warm")
    assert isinstance(trial.steps[0], StepRecord) and trial.steps[0].cache["cache_hit"] == "true"
    assert trial.total_s == 7.5 and trial.phase_s("restore") == 2.0
    written = trial.to_json()
    steps = [
        {k: v for k, v in step.items() if k in original}
        for step, original in zip(written.pop("steps"), V1_LINE["steps"], strict=True)
    ]
    assert steps == V1_LINE["steps"]
    unchanged = {k: v for k, v in V1_LINE.items() if k != "steps"}
    assert {k: v for k, v in written.items() if k in V1_LINE} == unchanged
    later = {k: v for k, v in written.items() if k not in V1_LINE}
    assert later == {
        "machine_busy": None, "attempt": 1, "sync_ns": 0, "cleanup_ns": 0, "job": "", "matrix": {}
    }  # fmt: skip


def test_the_summary_fields_are_the_sums_of_the_steps():
    steps = [StepRecord.from_json(step) for step in V1_LINE["steps"]]
    totals = StepTotals.of(steps)
    for name in (
        "phases_ns",
        "mirror_bytes",
        "mirror_requests",
        "cache_hit",
        "matched_keys",
        "restored_archive_bytes",
        "saved_archive_bytes",
        "cached_folder_bytes",
    ):
        assert getattr(totals, name) == V1_LINE[name], name


def test_an_older_line_without_later_fields_takes_their_defaults():
    line = {k: v for k, v in V1_LINE.items() if k not in ("teardown_ns", "cached_folder_bytes")}
    trial = TrialRecord.from_json(line)
    assert trial.teardown_ns == 0 and trial.cached_folder_bytes == 0


def test_a_line_missing_what_identifies_it_is_not_a_record():
    with pytest.raises(ValueError):
        TrialRecord.from_json({"schema": 1, "trial_id": "a"})


def test_appended_records_read_back_and_a_truncated_line_is_reported(tmp_path):
    results.append_trial(tmp_path, record("pip", "cold", 3.0, 1))
    results.append_trial(tmp_path, record("pip", "cold", 4.0, 2))
    with open(tmp_path / results.TRIALS_FILE, "a") as handle:
        handle.write('{"schema": 1, "trial_id": "c", "tot')  # a crash mid-line
    lines = results.read_trials(tmp_path)
    assert [r.total_s for r in lines.records] == [3.0, 4.0]
    assert lines.bad_lines == [3]


def test_records_of_another_schema_are_not_trusted(tmp_path):
    (tmp_path / results.TRIALS_FILE).write_text(json.dumps({"schema": 99}) + "\n")
    assert results.read_trials(tmp_path).bad_lines == [1]


def test_a_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BenchError, match="no run folder"):
        results.read_trials(tmp_path / "nope")
    with pytest.raises(BenchError, match="is missing"):
        results.read_json(tmp_path / "run.json")


def test_json_is_replaced_atomically(tmp_path):
    path = tmp_path / "run.json"
    results.write_json_atomically(path, {"status": "running"})
    results.write_json_atomically(path, {"status": "complete"})
    assert results.read_json(path) == {"status": "complete"}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]

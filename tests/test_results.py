"""Run records: atomic appends, truncated lines, and the run file."""

from __future__ import annotations

import json

import pytest

from bench import results
from bench.errors import BenchError


def test_appended_records_read_back_and_a_truncated_line_is_reported(tmp_path):
    results.append_trial(tmp_path, {"schema": 1, "trial_id": "a"})
    results.append_trial(tmp_path, {"schema": 1, "trial_id": "b"})
    with open(tmp_path / results.TRIALS_FILE, "a") as handle:
        handle.write('{"schema": 1, "trial_id": "c", "tot')  # a crash mid-line
    lines = results.read_trials(tmp_path)
    assert [r["trial_id"] for r in lines.records] == ["a", "b"]
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

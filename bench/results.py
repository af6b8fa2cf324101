"""A run's records: ``trials.jsonl`` (one JSON object per finished trial) and ``run.json``.

Schema version 1 is documented in ``docs/results-schema.md``. Each trial line is written with
one ``write`` on a file opened for appending and then flushed to disk, so a crash leaves either
the whole line or (at worst) a truncated last line, which readers report and skip.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError

SCHEMA_VERSION = 1
PHASES = ("restore", "setup", "install", "test", "save")  # a trial's time, split
STATES = ("cold", "warm", "partial")  # the cache states a trial starts from
TRIALS_FILE = "trials.jsonl"
RUN_FILE = "run.json"
PLAN_FILE = "plan.json"
DAMAGED_SUFFIX = ".damaged"  # lines set aside by a resume, kept beside the trials file


def append_trial(run_dir: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(run_dir / TRIALS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside_damaged_lines(run_dir: Path) -> int:
    """Move lines that are not whole JSON records (a last line cut by a crash) out of the
    trials file into ``trials.jsonl.damaged`` beside it; returns how many were moved.

    Afterwards the file ends with a newline, so the next append starts a line of its own.
    """
    path = run_dir / TRIALS_FILE
    if not path.is_file():
        return 0
    raw = path.read_bytes()
    kept, damaged = [], []
    for line in raw.splitlines(keepends=True):
        if not line.strip():
            continue
        whole = line.endswith(b"\n")
        try:
            parsed = json.loads(line) if whole else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        (kept if isinstance(parsed, dict) else damaged).append(line)
    if not damaged:
        return 0
    with open(run_dir / (TRIALS_FILE + DAMAGED_SUFFIX), "ab") as aside:
        aside.write(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in damaged))
        aside.flush()
        os.fsync(aside.fileno())
    fd, temporary = tempfile.mkstemp(dir=run_dir, prefix=f".{TRIALS_FILE}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"".join(kept))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return len(damaged)


@dataclass(frozen=True)
class TrialLines:
    records: list[dict[str, Any]]
    bad_lines: list[int]  # 1-based numbers of lines that are not whole JSON records


def read_trials(run_dir: Path) -> TrialLines:
    path = run_dir / TRIALS_FILE
    if not run_dir.is_dir():
        raise BenchError(f"no run folder {run_dir}; give a folder made by 'bench run'")
    if not path.is_file():
        return TrialLines([], [])
    records, bad = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        if not isinstance(record, dict) or record.get("schema") != SCHEMA_VERSION:
            bad.append(number)
            continue
        records.append(record)
    return TrialLines(records, bad)


def read_whole_trials(run_dir: Path) -> list[dict[str, Any]]:
    """The trial records, refusing a file with lines that are not whole records."""
    lines = read_trials(run_dir)
    if lines.bad_lines:
        numbers = ", ".join(str(n) for n in lines.bad_lines)
        raise BenchError(
            f"{run_dir / TRIALS_FILE}: line(s) {numbers} are not whole records (a run "
            "stopped mid-write?); delete them, or resume the run to finish it"
        )
    return lines.records


def write_json_atomically(path: Path, data: Any) -> None:
    """Write to a temporary file beside ``path`` and rename it over, so readers see old or new."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise BenchError(f"{path} is missing; is {path.parent} a run folder?") from None
    except json.JSONDecodeError as error:
        raise BenchError(f"{path} is not valid JSON (line {error.lineno}); restore it") from None

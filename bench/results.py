"""A run's records: ``trials.jsonl`` (one JSON object per finished trial) and ``run.json``.

Schema version 1 is documented in ``docs/results-schema.md``. A trial's record is a
``TrialRecord`` (its steps ``StepRecord``s): this module alone turns it into JSON
(``append_trial``) and back (``read_trials``), as pyperf's ``Run`` owns its format; everything
else reads attributes. Each trial line is written with one ``write`` on a file opened for
appending and then flushed to disk, so a crash leaves either the whole line or (at worst) a
truncated last line, which readers report and skip.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.vocabulary import PHASES, STATES, Cell

__all__ = ["PHASES", "STATES", "StepRecord", "TrialRecord"]  # PHASES, STATES: see vocabulary

SCHEMA_VERSION = 2  # 2 added machine_busy, attempt, sync_ns, cleanup_ns (docs/results-schema.md)
READABLE_SCHEMAS = (1, 2)  # the trial-line shapes ``TrialRecord.from_json`` understands
TRIALS_FILE = "trials.jsonl"
RUN_FILE = "run.json"
PLAN_FILE = "plan.json"
DAMAGED_SUFFIX = ".damaged"  # lines set aside by a resume, kept beside the trials file


@dataclass
class StepRecord:
    """One step of a job as it ran (fields: ``docs/results-schema.md``, "A step object")."""

    index: int
    name: str
    stage: str  # "main" or "post"
    uses: str | None
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
    cache: dict[str, Any] | None = None  # role, key, paths, matched_key, cache_hit, saved, ...
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    stand_in: bool = False  # an action stood in for by a no-op (see workflow.registry)
    part_of: str | None = None  # the local composite action this step belongs to
    # what stood in for what the step asked, e.g. a newer Python (absent from older records)
    substitutions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class StepTotals:
    """A trial's per-phase times and cache and network figures, summed from its steps."""

    phases_ns: dict[str, int]
    mirror_bytes: int
    mirror_requests: int
    mirror_files: int
    cache_hit: list[str]
    matched_keys: list[str]
    restored_archive_bytes: int
    saved_archive_bytes: int
    cached_folder_bytes: int

    @classmethod
    def of(cls, steps: Sequence[StepRecord]) -> StepTotals:
        phases = dict.fromkeys(PHASES, 0)
        for step in steps:
            for phase, ns in step.phases_ns.items():
                phases[phase] += ns
        caches = [s.cache for s in steps if s.cache]
        restores = [c for c in caches if c["role"] == "restore"]
        saves = [c for c in caches if c["role"] == "save"]
        return cls(
            phases_ns=phases,
            mirror_bytes=sum(s.mirror_bytes for s in steps),
            mirror_requests=sum(s.mirror_requests for s in steps),
            mirror_files=sum(s.mirror_files for s in steps),
            cache_hit=[c["cache_hit"] for c in restores],
            matched_keys=[c["matched_key"] for c in restores],
            restored_archive_bytes=sum(c["archive_bytes"] or 0 for c in restores),
            saved_archive_bytes=sum(c["archive_bytes"] or 0 for c in saves if c["saved"]),
            cached_folder_bytes=max(
                [c.get("folder_bytes") or 0 for c in [*restores, *saves]], default=0
            ),
        )


@dataclass
class TrialRecord:
    """One finished trial: one ``trials.jsonl`` line (fields: ``docs/results-schema.md``).

    Fields a line of an older schema lacks take their defaults when it is read.
    """

    trial_id: str
    scenario: str
    deps: str
    state: str
    order: int
    status: str  # "success" or "failure"
    total_ns: int  # the job's time: the sum of its steps' times
    schema: int = SCHEMA_VERSION
    run_id: str = ""
    workflow: str = ""
    job: str = ""  # the job's id in its workflow file
    matrix: dict[str, Any] = field(default_factory=dict)  # the matrix cell that ran
    repetition: int = 1
    started_at: str = ""
    error: str | None = None
    phases_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    wall_ns: int = 0
    prepare_ns: int = 0
    priming_ns: int = 0
    teardown_ns: int = 0
    harness_ns: int = 0
    harness_fraction: float | None = None
    mirror_bytes: int = 0
    mirror_requests: int = 0
    mirror_files: int = 0
    cache_hit: list[str] = field(default_factory=list)
    matched_keys: list[str] = field(default_factory=list)
    restored_archive_bytes: int = 0
    saved_archive_bytes: int = 0
    cached_folder_bytes: int = 0
    store_after: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    # schema 2
    machine_busy: float | None = None  # share of the machine's CPU used outside the trial
    attempt: int = 1  # 2 or more: a re-run of a trial whose machine was busy (--retry-busy)
    sync_ns: int = 0  # flushing earlier writes to disk before the trial; untimed
    cleanup_ns: int = 0  # deleting the runner set aside by the trial; untimed

    @property
    def cell(self) -> Cell:
        return Cell(self.deps, self.scenario, self.state)

    @property
    def succeeded(self) -> bool:
        return self.status == "success"

    @property
    def total_s(self) -> float:
        return self.total_ns / 1e9

    @property
    def occupied_s(self) -> float:
        """How long the trial held the machine: its wall time and its untimed chores
        (cleanup, sync, priming), what the budget and the settling estimate count."""
        return (self.wall_ns + self.cleanup_ns + self.sync_ns + self.priming_ns) / 1e9

    def phase_s(self, phase: str) -> float:
        return self.phases_ns.get(phase, 0) / 1e9

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [step.to_json() for step in self.steps]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialRecord:
        """A record from one parsed line; ``ValueError`` when it is not a record we can read."""
        if not isinstance(data, dict) or data.get("schema") not in READABLE_SCHEMAS:
            raise ValueError("not a trial record of a known schema")
        known = _known(cls, data)
        known["steps"] = [StepRecord.from_json(step) for step in data.get("steps", [])]
        try:
            return cls(**known)
        except TypeError as error:  # a required field is missing
            raise ValueError(str(error)) from None


def latest_attempts(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Each trial's last attempt: a re-run (``--retry-busy``) replaces the busy one."""
    latest: dict[str, TrialRecord] = {}
    for record in records:
        kept = latest.get(record.trial_id)
        if kept is None or record.attempt >= kept.attempt:
            latest[record.trial_id] = record
    return sorted(latest.values(), key=lambda r: r.order)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def append_trial(run_dir: Path, record: TrialRecord) -> None:
    line = (json.dumps(record.to_json(), sort_keys=True) + "\n").encode()
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
        (kept if line.endswith(b"\n") and _is_record(line) else damaged).append(line)
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
    records: list[TrialRecord]
    bad_lines: list[int]  # 1-based numbers of lines that are not whole JSON records


_NOT_A_RECORD = (json.JSONDecodeError, UnicodeDecodeError, ValueError, TypeError, AttributeError)


def _is_record(line: bytes) -> bool:
    """The line is a whole record that ``read_trials`` reads (the same test both use)."""
    try:
        TrialRecord.from_json(json.loads(line))
    except _NOT_A_RECORD:
        return False
    return True


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
            records.append(TrialRecord.from_json(json.loads(line)))
        except _NOT_A_RECORD:
            bad.append(number)
    return TrialLines(records, bad)


def read_whole_trials(run_dir: Path) -> list[TrialRecord]:
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

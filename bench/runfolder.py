"""A run folder is used by one run at a time: a lock held by the run and its watchdog.

The lock is ``flock`` on ``run.lock`` in the folder, taken when a run starts or resumes. The run's
watchdog (``bench.runner.reaper``) inherits it, so it is held until the harness has ended *and*
every process of its trials is gone; the kernel drops it when they are, however they ended.
A ``--resume`` that cannot take it refuses with one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from bench.errors import BenchError
from bench.runner.reaper import trial_processes

LOCK_FILE = "run.lock"


class RunLock:
    """The run folder's lock; ``fd`` is passed to the watchdog so that it holds it too."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise BenchError(_in_use(run_dir)) from None

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.release()


def lock_run_folder(run_dir: Path) -> RunLock:
    """Take the folder's lock, refusing while a process of an earlier run still works in it."""
    lock = RunLock(run_dir)
    users = trial_processes(set(), run_dir)
    if users:
        lock.release()
        raise BenchError(_in_use(run_dir, [p.pid for p in users]))
    return lock


def _in_use(run_dir: Path, pids: list[int] | None = None) -> str:
    who = f" (process {', '.join(map(str, pids[:5]))})" if pids else ""
    return (
        f"{run_dir} is in use by a run or its processes{who}; wait until it ends or stop it, "
        "then resume"
    )

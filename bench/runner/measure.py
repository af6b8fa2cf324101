"""Run one process and measure it: wall time (monotonic, ns), CPU and peak memory of its tree.

``os.wait4`` returns the resource use of the child together with every descendant it waited
for, which is how a step's ``bash`` and the tools it starts are counted without sampling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.runner import reaper


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    wall_ns: int
    cpu_user_s: float
    cpu_system_s: float
    peak_rss_bytes: int


def run_measured(
    argv: list[str], *, cwd: Path, env: dict[str, str], output: IO[bytes]
) -> ProcessResult:
    start = time.perf_counter_ns()
    # Its own process group, so that an interrupt stops the step's whole tree (pip, builds);
    # the group's leader dies with the harness, and the run's watchdog knows the group.
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        process_group=0,
        preexec_fn=reaper.die_with_parent,
    )
    reaper.track_group(process.pid)
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        # What the step left running (a service for later steps) lives on until the job ends,
        # as on a runner; the sweep after the job stops it (trial.run_job).
        reaper.untrack_group(process.pid)
    wall = time.perf_counter_ns() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return ProcessResult(
        returncode=process.returncode,
        wall_ns=wall,
        cpu_user_s=usage.ru_utime,
        cpu_system_s=usage.ru_stime,
        peak_rss_bytes=usage.ru_maxrss * 1024,  # kilobytes on Linux
    )

"""How busy the machine is besides the benchmark: per trial, and once before a run starts.

``machine_busy`` is the share of the machine's CPU (0 to 1) that processes outside the trial
used while it ran. The machine's busy time comes from ``psutil.cpu_times()`` (everything but
idle and iowait, all cores); the trial's own CPU is the harness process (its threads include
the mirror) plus its descendants. A descendant may exit during the trial, so its time is taken
where the kernel puts it: when a process is reaped (``wait4``), its CPU is added to its
parent's ``children`` times. The trial's CPU is therefore

    Δ(harness: user + system + children) + Σ live descendants at the end - Σ at the start

(each descendant's user + system + children), which counts every process once whether it
lived through the trial, started in it, or ended in it. The counters are cumulative, so two
readings (start and end) measure the whole interval; no sampling thread competes with the job.
Processes a descendant detached (reparented to init) are counted as outside: none of the
shipped scenarios leaves one.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

LOAD_PER_CORE_WARNING = 0.5  # a 1-minute load average over this per core is a busy machine
OTHER_PROCESS_CORE_SHARE = 0.5  # one process outside the harness using half a core or more


def _process_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _machine_busy_s() -> float:
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    return sum(times) - idle - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _descendants_cpu(harness: psutil.Process) -> dict[int, float]:
    found = {}
    for child in harness.children(recursive=True):
        try:
            found[child.pid] = _process_cpu(child)
        except psutil.Error:  # ended between listing and reading: its time goes to its parent
            continue
    return found


@dataclass
class _Reading:
    wall: float
    machine_s: float
    harness_s: float
    descendants_s: float


class BusyMeter:
    """``with BusyMeter() as meter: ...`` then ``meter.busy``: the outside share, 0 to 1."""

    def __init__(self) -> None:
        self.harness = psutil.Process()
        self.cores = psutil.cpu_count() or 1
        self.busy: float | None = None
        self.trial_cpu_s: float | None = None  # the trial's own CPU time over the interval
        self._start: _Reading | None = None

    def _read(self) -> _Reading:
        return _Reading(
            wall=time.monotonic(),
            machine_s=_machine_busy_s(),
            harness_s=_process_cpu(self.harness),
            descendants_s=sum(_descendants_cpu(self.harness).values()),
        )

    def __enter__(self) -> BusyMeter:
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._start is not None
        end, start = self._read(), self._start
        wall = end.wall - start.wall
        if wall <= 0:
            return
        trial = (end.harness_s - start.harness_s) + (end.descendants_s - start.descendants_s)
        self.trial_cpu_s = trial
        outside = (end.machine_s - start.machine_s) - trial
        self.busy = round(min(1.0, max(0.0, outside / (wall * self.cores))), 4)


@dataclass(frozen=True)
class MachineState:
    load_average: tuple[float, float, float]
    cores: int
    memory_available_bytes: int
    disk_free_bytes: int
    busy_processes: list[str]  # "name (pid): 87 % of a core" for processes outside the harness
    warnings: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "load_average": list(self.load_average),
            "cores": self.cores,
            "memory_available_bytes": self.memory_available_bytes,
            "disk_free_bytes": self.disk_free_bytes,
            "busy_processes": self.busy_processes,
            "warnings": self.warnings,
        }


def machine_state(folder: Path, sample_s: float = 1.0) -> MachineState:
    """The machine before a run: load, free memory and disk, and other CPU-heavy processes."""
    cores = psutil.cpu_count() or 1
    load = os.getloadavg()
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    processes = [p for p in psutil.process_iter(["name"]) if p.pid not in mine]
    before = {}
    for process in processes:
        try:
            before[process.pid] = _process_cpu(process) - _children_only(process)
        except psutil.Error:
            continue
    time.sleep(sample_s)
    busy = []
    for process in processes:
        try:
            used = _process_cpu(process) - _children_only(process) - before[process.pid]
        except (psutil.Error, KeyError):
            continue
        share = used / sample_s
        if share >= OTHER_PROCESS_CORE_SHARE:
            busy.append(f"{process.info['name']} ({process.pid}): {share:.0%} of a core")
    warnings = []
    if load[0] > LOAD_PER_CORE_WARNING * cores:
        warnings.append(
            f"load average {load[0]:.2f} on {cores} core(s): something else is running; "
            "the figures will be slower and noisier"
        )
    if busy:
        warnings.append("other processes are using the CPU: " + "; ".join(busy))
    return MachineState(
        load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        cores=cores,
        memory_available_bytes=psutil.virtual_memory().available,
        disk_free_bytes=shutil.disk_usage(folder).free,
        busy_processes=busy,
        warnings=warnings,
    )


def _children_only(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.children_user + times.children_system

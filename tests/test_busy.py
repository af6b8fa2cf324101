"""machine_busy: near 0 when only the trial works, high beside two busy loops outside it.

Slow (about 10 s) and only meaningful on a quiet machine: these are the conditions the figure
is meant to tell apart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from bench.busy import BusyMeter, machine_state

LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"


def spin(seconds: float) -> list[str]:
    return [sys.executable, "-c", LOOP.format(seconds=seconds)]


def run_own_loops() -> tuple[BusyMeter, float]:
    """A trial busy on both cores with its own processes; the CPU the kernel charged them."""
    with BusyMeter() as meter:
        # Two loops, one a grandchild through a shell: the trial's own CPU, both cores.
        child = subprocess.Popen(spin(2.0))
        shell = subprocess.Popen(["sh", "-c", " ".join(f"'{a}'" for a in spin(2.0))])
        _pid, _status, child_usage = os.wait4(child.pid, 0)
        _pid, _status, shell_usage = os.wait4(shell.pid, 0)
    return meter, sum(u.ru_utime + u.ru_stime for u in (child_usage, shell_usage))


@pytest.mark.slow
def test_the_trial_s_own_cpu_includes_children_and_grandchildren():
    meter, charged = run_own_loops()  # holds on a loaded machine too
    assert charged > 0.3 and meter.trial_cpu_s == pytest.approx(charged, abs=0.3)


@pytest.mark.slow
def test_a_quiet_trial_is_near_zero_even_when_it_uses_every_core():
    with BusyMeter() as idle:
        time.sleep(1.0)
    if idle.busy is not None and idle.busy > 0.2:
        pytest.skip(f"the machine is busy ({idle.busy:.0%} of its CPU): no quiet trial here")
    meter, _charged = run_own_loops()
    assert meter.busy is not None and meter.busy < 0.1


@pytest.mark.slow
def test_two_busy_loops_outside_the_trial_make_it_busy(tmp_path):
    pids = []
    try:
        for n in range(2):
            pidfile = tmp_path / f"loop{n}.pid"
            # Detached (the shell exits at once): the loop is no descendant of the harness.
            command = " ".join(f"'{a}'" for a in spin(6.0))
            subprocess.run(["sh", "-c", f"{command} & echo $! > {pidfile}"], check=True)
            pids.append(int(pidfile.read_text()))
        time.sleep(0.5)
        with BusyMeter() as meter:
            time.sleep(3.0)  # the trial itself idles
        assert meter.busy is not None and meter.busy > 0.6
        state = machine_state(tmp_path, sample_s=1.0)
        assert state.warnings  # the loops (or, on a loaded machine, the load average)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

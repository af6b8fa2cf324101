"""No process of a trial outlives the harness: a watchdog, a parent-death signal, a sweep.

Three layers, because each alone leaves a gap:

- the step's shell (its process-group leader) gets ``PR_SET_PDEATHSIG=SIGKILL``: the kernel
  kills it the moment the harness dies, even by ``kill -9`` (this covers the leader only);
- a watchdog process, started once per run in its own session, holds a pipe from the harness.
  The harness tells it each step's process group and each runner's ``RUNNER_TRACKING_ID``; when
  the pipe closes (the harness ended, however it ended) it kills those groups and sweeps;
- a sweep kills every process whose environment carries a tracked ``RUNNER_TRACKING_ID`` (as
  the real runner finds a job's orphans) or whose working folder is inside the watched folder
  (tar and zstd of the cache steps run there), until a look finds none. The harness also
  sweeps after every job, as the hosted runner does ("Cleaning up orphan processes").

The watchdog inherits the run folder's lock (``bench.runfolder``), so a ``--resume`` cannot
start until it has finished cleaning.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl  # looked up before any fork: the child only calls it


def die_with_parent() -> None:
    """``preexec_fn``: the kernel sends SIGKILL to this process when its parent dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def trial_processes(
    tokens: set[str], folder: Path | None, spare: frozenset[int] = frozenset()
) -> list[psutil.Process]:
    """Live processes carrying one of ``tokens`` as RUNNER_TRACKING_ID, or working in ``folder``
    (this process and the pids in ``spare`` excepted)."""
    me = os.getpid()
    found = []
    inside = str(folder.resolve()) + os.sep if folder is not None else None
    for process in psutil.process_iter():
        if process.pid == me or process.pid in spare:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if inside is not None and (process.cwd() + os.sep).startswith(inside):
                found.append(process)
                continue
            if tokens and process.environ().get("RUNNER_TRACKING_ID") in tokens:
                found.append(process)
    return found


def sweep(
    tokens: set[str], folder: Path | None, spare: frozenset[int] = frozenset(), rounds: int = 20
) -> int:
    """Kill what ``trial_processes`` finds until a look finds nothing; how many were killed.

    Only a found process can start another one that would be found, so one empty look after
    the last kill is enough.
    """
    killed = 0
    for _ in range(rounds):
        found = trial_processes(tokens, folder, spare)
        if not found:
            break
        for process in found:
            with contextlib.suppress(psutil.Error):
                process.kill()
                killed += 1
        psutil.wait_procs(found, timeout=0.5)
    return killed


class Watchdog:
    """The harness's end of the watchdog process (see the module's docstring)."""

    def __init__(self, folder: Path, keep_fds: tuple[int, ...] = ()) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.runner.reaper", str(folder.resolve())],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C to the terminal does not stop it before its job
            cwd="/",
            pass_fds=keep_fds,
            env={"PATH": os.defpath, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write(f"{line}\n".encode())
            self.process.stdin.flush()

    def close(self) -> None:
        """The harness is ending: the watchdog cleans up what is left, then exits."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        self.process.wait()


_active: Watchdog | None = None


@contextlib.contextmanager
def watched(folder: Path, keep_fds: tuple[int, ...] = ()) -> Iterator[Watchdog]:
    """Run the body with a watchdog over ``folder``; steps started meanwhile are tracked."""
    global _active
    watchdog = Watchdog(folder, keep_fds)
    previous, _active = _active, watchdog
    try:
        yield watchdog
    finally:
        _active = previous
        watchdog.close()


def track_group(pgid: int) -> None:
    if _active is not None:
        _active.tell(f"group {pgid}")


def untrack_group(pgid: int) -> None:
    if _active is not None:
        _active.tell(f"ungroup {pgid}")


def track_runner(tracking_id: str) -> None:
    if _active is not None:
        _active.tell(f"runner {tracking_id}")


def _watch(folder: Path) -> None:
    """The watchdog's loop: remember what the harness says until its pipe closes, then clean."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    harness = frozenset({os.getppid()})  # when the harness ends normally, it waits for us
    groups: set[int] = set()
    tokens: set[str] = set()
    for line in sys.stdin.buffer:
        kind, _, value = line.decode().strip().partition(" ")
        if kind == "group":
            groups.add(int(value))
        elif kind == "ungroup":
            groups.discard(int(value))
        elif kind == "runner":
            tokens.add(value)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    sweep(tokens, folder, harness)


if __name__ == "__main__":
    _watch(Path(sys.argv[1]))

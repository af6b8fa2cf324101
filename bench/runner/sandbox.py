"""A fresh fake hosted runner per trial, laid out like GitHub's Ubuntu images.

The root is the same path for every trial of a run, as ``/home/runner`` is the same on every
hosted runner: caches hold absolute paths (a venv's scripts name their interpreter), so a warm
restore only works where the cold run saved. The root is emptied before and after each trial.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.mirror.clients import home_settings, mirror_environment

# The hosted image's system PATH, without anything of the host's own (pyenv shims, venvs).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_REF = "refs/heads/main"


@dataclass(frozen=True)
class Sandbox:
    root: Path
    repo: str
    # As the real runner's RUNNER_TRACKING_ID: every process of the job carries it in its
    # environment, so the ones a step left behind can be found and stopped (runner.reaper).
    tracking_id: str = field(default_factory=lambda: f"github_{uuid.uuid4()}")

    @property
    def home(self) -> Path:
        return self.root / "home" / "runner"

    @property
    def workspace(self) -> Path:
        return self.home / "work" / self.repo / self.repo

    @property
    def temp(self) -> Path:
        return self.home / "work" / "_temp"

    @property
    def tmp(self) -> Path:
        """The runner's /tmp: tools' temporary files stay inside the runner (``TMPDIR``)."""
        return self.root / "tmp"

    @property
    def tool_cache(self) -> Path:
        return self.root / "opt" / "hostedtoolcache"

    @property
    def pipx_home(self) -> Path:
        """``PIPX_HOME`` (``/opt/pipx`` on the image): pipx's venvs and shared libraries."""
        return self.root / "opt" / "pipx"

    @property
    def pipx_bin_dir(self) -> Path:
        """``PIPX_BIN_DIR`` (``/opt/pipx_bin`` on the image, on PATH): the apps pipx installs."""
        return self.root / "opt" / "pipx_bin"

    @property
    def local_bin(self) -> Path:
        """The image's ``/usr/local/bin``, where its system-wide ``pipx`` command is."""
        return self.root / "usr" / "local" / "bin"


def create_sandbox(root: Path, repo: str) -> Sandbox:
    """An empty runner at ``root`` (whatever was there is removed first)."""
    remove_sandbox(root)
    sandbox = Sandbox(root.resolve(), repo)
    for folder in (
        sandbox.workspace,
        sandbox.temp,
        sandbox.tool_cache,
        sandbox.home / ".local/bin",
        sandbox.tmp,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    return sandbox


def remove_sandbox(root: Path) -> None:
    """Remove the runner: ``rm -rf`` on its subtrees, one process per core, then the rest.

    Unlinking tens of thousands of files is most of the harness's own cost on large venvs; on
    two cores, two processes over halves of the tree take about a quarter less time than one.
    """
    if not (root.exists() or root.is_symlink()):
        return
    parts = _subtrees(root)
    workers = max(1, min(os.cpu_count() or 1, len(parts)))
    processes = [
        subprocess.Popen(["rm", "-rf", "--", *parts[i::workers]], stderr=subprocess.DEVNULL)
        for i in range(workers)
        if parts[i::workers]
    ]
    for process in processes:
        process.wait()
    if subprocess.run(["rm", "-rf", "--", str(root)], capture_output=True).returncode != 0:
        # Packages can leave read-only folders: make them writable, then try again.
        subprocess.run(["chmod", "-R", "u+rwX", str(root)], capture_output=True)
        shutil.rmtree(root)


def _subtrees(root: Path, wanted: int = 32) -> list[str]:
    """Paths that split the tree into at least ``wanted`` parts (breadth first), if it has them."""
    frontier = [root]
    while len(frontier) < wanted:
        expanded: list[Path] = []
        for path in frontier:
            if path.is_dir() and not path.is_symlink():
                try:
                    expanded.extend(path.iterdir())
                except OSError:
                    expanded.append(path)
            else:
                expanded.append(path)
        if expanded == frontier:
            break
        frontier = expanded
    return [str(p) for p in frontier if p != root]


def runner_environment(sandbox: Sandbox, index_url: str | None) -> dict[str, str]:
    """The job's base environment, built from nothing but what a hosted runner defines.

    Nothing of the host's environment is copied (an allow-list, not the host minus a deny-list):
    a fresh runner has no variables of the user's shell, and ``PATH`` holds only the runner's
    own folders and the image's system ones, so no tool of the user's home is found. Package
    tools are pointed at the mirror; git reads no system configuration, only HOME's (empty).
    """
    env = home_settings(sandbox.home)
    if index_url:
        env |= mirror_environment(index_url)
    env |= {
        # As the image's /etc/environment orders them; pipx's folders are in every runner,
        # its files only when the run prepared pipx (bench.runner.pipx).
        "PATH": ":".join(
            (
                str(sandbox.home / ".local" / "bin"),
                str(sandbox.pipx_bin_dir),
                str(sandbox.local_bin),
                SYSTEM_PATH,
            )
        ),
        "TMPDIR": str(sandbox.tmp),
        # npm's global prefix would otherwise follow node's real path to the host's /usr.
        "NPM_CONFIG_PREFIX": str(sandbox.root / "usr" / "local"),
        "PIPX_HOME": str(sandbox.pipx_home),
        "PIPX_BIN_DIR": str(sandbox.pipx_bin_dir),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_NAME": "ci-cache-bench",
        "RUNNER_ENVIRONMENT": "github-hosted",
        "RUNNER_TEMP": str(sandbox.temp),
        "RUNNER_TOOL_CACHE": str(sandbox.tool_cache),
        "RUNNER_WORKSPACE": str(sandbox.workspace.parent),
        "RUNNER_TRACKING_ID": sandbox.tracking_id,
        "GITHUB_WORKSPACE": str(sandbox.workspace),
        "GITHUB_REF": DEFAULT_REF,
        "GITHUB_REF_NAME": DEFAULT_REF.rsplit("/", 1)[-1],
        "GITHUB_REPOSITORY": f"bench/{sandbox.repo}",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_RUN_ID": "1",
        "GITHUB_RUN_NUMBER": "1",
        "GITHUB_JOB": "build",
    }
    return env

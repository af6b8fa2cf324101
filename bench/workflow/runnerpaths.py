"""Paths written for GitHub's hosted runner, placed inside this fake runner.

A workflow may name ``/home/runner/...`` or ``/tmp/...`` for a cache folder: on this machine
those would be folders shared between trials (and outside the runner). ``~`` and
``/home/runner`` become the runner's home, ``/tmp`` the runner's own ``<root>/tmp``; any other
absolute path outside the runner is refused (the step fails in one line).
"""

from __future__ import annotations

import os

from bench.workflow.actions import ActionContext, ActionError

RUNNER_HOME = "/home/runner"


def runner_path(path: str, ctx: ActionContext, what: str) -> str:
    """A path written for GitHub's runner, inside this runner.

    ``~`` and ``/home/runner`` are the runner's home; ``/tmp`` (shared on this machine) is the
    runner's own; a relative path stays relative. Any other absolute path would be a folder of
    this machine that outlives the trial: refused. ``what`` names the input in the error.
    """
    if path.startswith("/"):
        path = os.path.normpath(path)  # no way out through ``..``
    root = str(ctx.sandbox.root)
    if path == root or path.startswith(root + "/"):  # ${{ runner.temp }} and the like
        return path
    if path == "~" or path.startswith("~/"):
        return str(ctx.sandbox.home) + path[1:]
    if path == RUNNER_HOME or path.startswith(RUNNER_HOME + "/"):
        return str(ctx.sandbox.home) + path[len(RUNNER_HOME) :]
    if path == "/tmp" or path.startswith("/tmp/"):
        return root + path
    if not path.startswith("/"):
        return path  # the step's working directory's, as uv and actions/cache read it
    raise ActionError(
        f"{what} {path} is outside the runner: use a path under ~, /home/runner or /tmp"
    )

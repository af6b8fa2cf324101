"""pre-commit/action: its four composite steps in one, as the action runs them.

``python -m pip install pre-commit`` (from the mirror, with the job's Python), ``python -m pip
freeze --local``, actions/cache of ``~/.cache/pre-commit`` under the key
``pre-commit-3|<env.pythonLocation>|<hashFiles('.pre-commit-config.yaml')>`` (saved after
success), then ``pre-commit run --show-diff-on-failure --color=always <extra_args>``
(``--all-files`` by default). The cache's restore is split out as ``restore``; the rest is the
step's phase, ``install`` (installing pre-commit and the hooks' environments). Hooks fetched
from a git host need the network: offline they fail the step, as any step reaching it would.
"""

from __future__ import annotations

import subprocess
import time

from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.workflow import actions
from bench.workflow.actions import ActionContext, ActionError, ActionResult


def pre_commit(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    result = ActionResult(ok=True)
    for command in ("python -m pip install pre-commit", "python -m pip freeze --local"):
        if not _bash(command, ctx, result):
            return result
    started = time.perf_counter_ns()
    try:
        digest = hash_files(
            [".pre-commit-config.yaml"], workspace=ctx.sandbox.workspace, home=ctx.sandbox.home
        )
    except HashFilesError as error:
        raise ActionError(f"pre-commit/action: {error}") from None
    key = f"pre-commit-3|{ctx.env.get('pythonLocation', '')}|{digest}"
    restored = actions.cache({"path": "~/.cache/pre-commit", "key": key}, ctx)
    result.restore_ns = time.perf_counter_ns() - started
    result.log += restored.log
    result.cache, result.post = restored.cache, restored.post
    if not restored.ok:
        result.ok = False
        return result
    extra = inputs.get("extra_args", "--all-files")
    _bash(f"pre-commit run --show-diff-on-failure --color=always {extra}", ctx, result)
    return result


def _bash(command: str, ctx: ActionContext, result: ActionResult) -> bool:
    """One of the composite's ``run:`` steps (bash, the job's environment, the workspace)."""
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=ctx.sandbox.workspace,
        env=ctx.env,
        capture_output=True,
        text=True,
    )
    result.log += [f"$ {command}", *(done.stdout + done.stderr).strip().splitlines()[-20:]]
    if done.returncode != 0:
        result.ok = False
        result.log.append(f"Process completed with exit code {done.returncode}.")
    return done.returncode == 0

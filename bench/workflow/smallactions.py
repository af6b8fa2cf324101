"""Small actions emulated for real, because they are cheap to: reading and writing a file, and
two that run something of the job's in place of what needs the network.

- ``juliangruber/read-file-action``: ``path`` read as UTF-8 into the output ``content``
  (``trim: true`` strips it).
- ``DamianReeves/write-file-action``: ``contents`` written to ``path`` (folders made) by
  ``write-mode`` ``overwrite``, ``append`` or ``preserve`` (the default: an existing file is
  kept; given empty, ``append``, as the action reads it); the output ``size`` is the file's size.
- ``CodSpeedHQ/action``: its ``run`` command runs in bash (in ``working-directory``), without
  CodSpeed's runner, instruments or upload (they come from the network); recorded as a
  substitution. The step's phase is ``test``.
- ``re-actors/checkout-python-sdist``: unpacks the sdist another job built; here the workspace
  gets the dependency set's files as actions/checkout would (the sdist holds that source);
  recorded as a substitution.

Paths are relative to the workspace; a path outside the runner is refused (the fake runner
never touches the host's files).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.workflow import actions
from bench.workflow.actions import ActionContext, ActionError, ActionResult


def read_file(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    path = _inside_runner(inputs.get("path", ""), ctx, "juliangruber/read-file-action")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return ActionResult(ok=False, log=[f"{path}: {error}"])
    if inputs.get("trim", "false").strip().lower() == "true":
        content = content.strip()
    return ActionResult(ok=True, outputs={"content": content})


def write_file(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    path = _inside_runner(inputs.get("path", ""), ctx, "DamianReeves/write-file-action")
    mode = (inputs.get("write-mode", "preserve") or "append").strip().lower()
    if mode not in ("overwrite", "append", "preserve"):
        return ActionResult(ok=False, log=["Mode must be one of: overwrite, append, or preserve"])
    contents = inputs.get("contents", "").strip()  # @actions/core's getInput trims its inputs
    if not contents:
        return ActionResult(ok=False, log=["Input required and not supplied: contents"])
    if not (mode == "preserve" and path.exists()):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w" if mode == "overwrite" else "a", encoding="utf-8") as handle:
            handle.write(contents)
    return ActionResult(ok=True, outputs={"size": str(path.stat().st_size)})


def codspeed(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    command = inputs.get("run", "").strip()
    if not command:
        raise ActionError("CodSpeedHQ/action: no run command (a codspeed.yml is not emulated)")
    cwd = _inside_runner(inputs.get("working-directory", ""), ctx, "CodSpeedHQ/action")
    if not cwd.is_dir():
        raise ActionError(f"CodSpeedHQ/action: working-directory {cwd} does not exist")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=ctx.env,
        capture_output=True,
        text=True,
    )
    words = "ran its run command uninstrumented (CodSpeed's runner is not installed here)"
    output = (done.stdout + done.stderr).strip().splitlines()
    log = [f"Notice: {words}", f"$ {command}", *output[-30:]]
    if done.returncode != 0:
        log.append(f"Process completed with exit code {done.returncode}.")
    return ActionResult(ok=done.returncode == 0, log=log, substitutions=[words])


def checkout_python_sdist(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    result = actions.checkout({}, ctx)
    words = "unpacked the dependency set as actions/checkout would (no sdist from another job)"
    result.log.insert(0, f"Notice: {words}")
    result.substitutions.append(words)
    return result


def _inside_runner(relative: str, ctx: ActionContext, action: str) -> Path:
    target = (ctx.sandbox.workspace / relative.strip()).resolve()
    if not target.is_relative_to(ctx.sandbox.root):
        raise ActionError(f"{action}: {relative!r} is outside the runner")
    return target

"""Stand-ins (recorded no-ops, see ``registry.STAND_INS``) and the tool installers
snok/install-poetry and pypa/hatch (its ``install`` action)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.workflow.actions import ActionContext, ActionError, ActionResult
from bench.workflow.registry import STAND_INS


def stand_in(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    """Nothing runs; the trial's log and record say so."""
    ref = ctx.action
    name = ref.written if ref is not None else "action"
    spec = STAND_INS.get(ref.name) if ref is not None else None
    why = spec.stand_in if spec is not None else "does not touch dependencies"
    return ActionResult(
        ok=True,
        stand_in=True,
        log=[f"Notice: stood in for {name} ({why}); nothing ran"],
    )


def install_poetry(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    """snok/install-poetry: poetry in its own venv under ~/.local (from the mirror), then its
    settings from the inputs, as the action's installer does."""
    python = shutil.which("python3", path=ctx.env["PATH"]) or shutil.which(
        "python", path=ctx.env["PATH"]
    )
    if python is None:
        raise ActionError("snok/install-poetry: no python on PATH; run setup-python first")
    local = ctx.sandbox.home / ".local"
    venv = local / "venv"
    version = inputs.get("version", "").strip()
    requirement = f"poetry=={version}" if version and version != "latest" else "poetry"
    plugins = inputs.get("plugins", "").split()
    log = [f"Installing {requirement} into {venv}"]
    _run([python, "-m", "venv", str(venv)], ctx)
    _run([str(venv / "bin/python"), "-m", "pip", "install", requirement, *plugins], ctx)
    (local / "bin").mkdir(parents=True, exist_ok=True)
    link = local / "bin/poetry"
    link.unlink(missing_ok=True)
    link.symlink_to(venv / "bin/poetry")
    settings = {
        "virtualenvs.create": inputs.get("virtualenvs-create", "true") or "true",
        "virtualenvs.in-project": inputs.get("virtualenvs-in-project", "false") or "false",
        "installer.parallel": inputs.get("installer-parallel", "true") or "true",
    }
    if inputs.get("virtualenvs-path", "").strip():
        path = inputs["virtualenvs-path"].strip()
        settings["virtualenvs.path"] = str(ctx.sandbox.home) + path[1:] if path[0] == "~" else path
    for name, value in settings.items():
        _run([str(link), "config", name, value.strip().lower()], ctx)
        log.append(f"poetry config {name} {value}")
    return ActionResult(ok=True, log=log, path=[str(local / "bin")])


def install_hatch(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    """pypa/hatch@install: Hatch into ``$RUNNER_TOOL_CACHE/.hatch`` (on PATH), then
    ``hatch --version`` as its script runs it (its ``hatch self cache dist --remove`` empties
    the standalone binary's own cache, which a venv does not have).

    The action downloads Hatch's standalone binary; here Hatch comes from the mirror into a
    venv there (of the runner's python3), the way its own fallback (pipx) installs it.
    """
    python = shutil.which("python3", path=ctx.env["PATH"])
    if python is None:
        raise ActionError("pypa/hatch: no python3 on PATH")
    folder = ctx.sandbox.tool_cache / ".hatch"
    venv = folder / "venv"
    version = inputs.get("version", "latest").strip() or "latest"
    requirement = "hatch" if version == "latest" else f"hatch=={version}"
    _run([python, "-m", "venv", str(venv)], ctx, "pypa/hatch")
    _run([str(venv / "bin/python"), "-m", "pip", "install", requirement], ctx, "pypa/hatch")
    link = folder / "hatch"
    link.unlink(missing_ok=True)
    link.symlink_to(venv / "bin/hatch")
    _run([str(link), "--version"], ctx, "pypa/hatch")
    return ActionResult(ok=True, log=[f"Installing Hatch {version}"], path=[str(folder)])


def _run(command: list[str], ctx: ActionContext, action: str = "snok/install-poetry") -> None:
    done = subprocess.run(
        command, env=ctx.env, cwd=Path(ctx.sandbox.workspace), capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ActionError(f"{action}: {' '.join(command[:4])}: {tail}")

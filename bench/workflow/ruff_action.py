"""astral-sh/ruff-action: Ruff from the mirror's wheel, run on ``src`` with ``args``.

The action downloads Ruff's release binary; the ``ruff`` wheel ships the same binary as a
script, so it comes out of the mirror's wheel into the tool cache (on ``PATH``), as setup-uv's
uv does. The version is ``version``, else a ``ruff`` requirement found in ``version-file`` or
the workspace's ``pyproject.toml`` (``ruff==0.6.0``, ``ruff>=0.5``), else the newest on the
mirror (the action also reads ``uv.lock`` and searches upward from ``src``; not here). Then
``ruff <args> <src>``: both split on whitespace, ``src`` (the workspace by default) with its
globs expanded, unmatched ones kept, as the action does. The step's phase is ``test``.
"""

from __future__ import annotations

import glob
import re
import subprocess

from bench.workflow.actions import ActionContext, ActionResult
from bench.workflow.setup_uv import install_wheel_binary

_CLAUSE = r"(?:==|>=|<=|~=|!=|<|>)\s*[\w.*]+"
_REQUIREMENT = re.compile(rf"\bruff\s*({_CLAUSE}(?:\s*,\s*{_CLAUSE})*)")


def ruff_action(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    version, folder = install_wheel_binary("ruff", _version(inputs, ctx), ctx, "ruff-action")
    result = ActionResult(ok=True, outputs={"ruff-version": version}, path=[str(folder)])
    result.log.append(f"Successfully installed ruff version {version}")
    args = (inputs.get("args", "check") or "check").split()
    sources = _sources(inputs.get("src", "") or str(ctx.sandbox.workspace), ctx)
    done = subprocess.run(
        [str(folder / "ruff"), *args, *sources],
        cwd=ctx.sandbox.workspace,
        env=ctx.env | {"PATH": f"{folder}:{ctx.env['PATH']}"},
        capture_output=True,
        text=True,
    )
    result.log += [f"ruff {' '.join(args + sources)}", *(done.stdout + done.stderr).splitlines()]
    if done.returncode != 0:
        result.ok = False
        result.log.append(f"The process 'ruff' failed with exit code {done.returncode}")
    return result


def _version(inputs: dict[str, str], ctx: ActionContext) -> str:
    if inputs.get("version", "").strip():
        return inputs["version"].strip().lstrip("v")
    name = inputs.get("version-file", "").strip() or "pyproject.toml"
    path = ctx.sandbox.workspace / name
    try:
        found = _REQUIREMENT.search(path.read_text())
    except OSError:
        found = None
    return found.group(1).replace(" ", "") if found else "latest"


def _sources(text: str, ctx: ActionContext) -> list[str]:
    sources = []
    for source in text.split():
        if not re.search(r"[*?[]", source):
            sources.append(source)
            continue
        root = str(ctx.sandbox.workspace)
        matches = sorted(glob.glob(source, root_dir=root, recursive=True))
        sources += matches or [source]
    return sources

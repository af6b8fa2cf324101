"""re-actors/cache-python-deps: actions/cache on pip's folder, keyed on the interpreter.

As the composite action does: the job's ``python`` reports whether its ABI is stable (a final
release) and the sha512 of ``sys.version``; the folder is what ``cache-directory-lookup-command``
prints (``python -Im pip cache dir``); the key is
``<os>-python-dep-cache-<stable|unstable>-<hash>-<hash>-<cache-key-for-dependency-files>`` with
the key itself, ``…-<hash>`` and ``…-<stable|unstable>`` as restore keys, restored only for a
stable ABI (saved after success). Its outputs are the action's.
"""

from __future__ import annotations

import hashlib
import subprocess
import time

from bench.workflow import actions
from bench.workflow.actions import ActionContext, ActionError, ActionResult

_PROBE = "import sys; print(sys.version_info.releaselevel); print(sys.version)"


def cache_python_deps(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    level, _, version = _run(["python", "-c", _PROBE], ctx).partition("\n")
    stable = level.strip() == "final"
    digest = hashlib.sha512(version.rstrip("\n").encode()).hexdigest()
    fallback = f"{ctx.env.get('RUNNER_OS', 'Linux')}-python-dep-cache-"
    fallback += "stable" if stable else "unstable"
    prefix = f"{fallback}-{digest}"
    key = f"{prefix}-{digest}-{inputs.get('cache-key-for-dependency-files', '')}"
    lookup = inputs.get("cache-directory-lookup-command", "python -Im pip cache dir")
    folder = _run(["bash", "-c", lookup], ctx).strip()
    outputs = {
        "cache-directory-path": folder,
        "cache-key-for-os": fallback,
        "cache-key-for-dependencies": key,
        "cache-key-for-python-interpreter": prefix,
        "is-stable-abi": "true" if stable else "false",
    }
    if not stable:
        log = ["Skipping cache configuration because the current Python ABI is unstable..."]
        return ActionResult(ok=True, outputs=outputs, log=log)
    started = time.perf_counter_ns()
    restored = actions.cache(
        {"path": folder, "key": key, "restore-keys": f"{key}\n{prefix}\n{fallback}"}, ctx
    )
    restored.restore_ns = time.perf_counter_ns() - started
    restored.outputs = outputs
    return restored


def _run(command: list[str], ctx: ActionContext) -> str:
    done = subprocess.run(
        command, cwd=ctx.sandbox.workspace, env=ctx.env, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ActionError(f"re-actors/cache-python-deps: {' '.join(command)}: {tail}")
    return done.stdout

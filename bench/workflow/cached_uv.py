"""hynek/setup-cached-uv (v2): uv from its installer, and actions/cache on uv's cache folder.

The action is a composite of its own: it exports ``UV_CACHE_DIR`` (``uv-cache-path``, else
``/tmp/scu-uv-cache``), installs the newest uv with the official installer into
``~/.local/bin``, appends ``-<hashFiles(cache-dependency-path)>`` (default ``pyproject.toml``,
from v2.3; none before) and ``-$(date <cache-date-suffix>)`` (default ``+%V``, the ISO week) to
the key ``uv-<runner.os>-<github.workflow>-<github.job><cache-suffix>``, restores it with
actions/cache (no restore keys), and schedules ``uv cache prune --ci`` as a post step
(gacts/run-and-post-run, which runs whatever the job's outcome) before actions/cache's save
(only after success). ``use-cache-if`` other than ``true`` skips the key, the cache and the
prune.

Here uv comes out of the mirror's wheel (as for setup-uv), and ``/tmp`` is the runner's own
(``<runner root>/tmp``), so no trial sees another's cache folder; the key is GitHub's.
"""

from __future__ import annotations

import shutil
import subprocess
import time

from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.ghcache.keys import parse_multiline
from bench.workflow import actions
from bench.workflow.actions import ActionContext, ActionError, ActionResult, PostStep
from bench.workflow.runnerpaths import runner_path
from bench.workflow.setup_uv import install_uv

NOT_SET = "NOT_SET"
DEFAULT_CACHE = "/tmp/scu-uv-cache"


def setup_cached_uv(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    at_least_2_3 = ctx.action is None or ctx.action.at_least(2, 3)
    cache_path = inputs.get("uv-cache-path", NOT_SET).strip() or NOT_SET
    suffix = inputs.get("cache-suffix", "")
    date_suffix = inputs.get("cache-date-suffix", "+%V")
    dependency_path = inputs.get("cache-dependency-path", "pyproject.toml" if at_least_2_3 else "")
    use_cache = wants_cache(inputs.get("use-cache-if", "true"))
    written = DEFAULT_CACHE if cache_path == NOT_SET else cache_path
    cache_dir = runner_path(written, ctx, "hynek/setup-cached-uv: uv-cache-path")

    result = ActionResult(ok=True, env={"UV_CACHE_DIR": cache_dir})
    if written == "/tmp" or written.startswith("/tmp/"):
        result.substitutions.append(f"uv cache {written} -> {cache_dir} (the runner's own /tmp)")
    version, folder = install_uv("latest", ctx)
    local_bin = ctx.sandbox.home / ".local" / "bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name in ("uv", "uvx"):
        if (folder / name).is_file():
            shutil.copy2(folder / name, local_bin / name)
    result.path = [str(local_bin)]
    result.log += [f"installing to {local_bin}", f"uv {version}", f"uv cache dir is {cache_dir}"]
    if not use_cache:
        return result
    started = time.perf_counter_ns()
    if dependency_path != "":
        result.env["HASH_CACHE_SUFFIX"] = "-" + _hash(dependency_path, ctx)
    if date_suffix != "":
        result.env["DATE_CACHE_SUFFIX"] = "-" + _date(date_suffix, ctx)
    key = (
        f"uv-{ctx.env.get('RUNNER_OS', 'Linux')}-{ctx.workflow_name}-{ctx.job_id}{suffix}"
        f"{result.env.get('HASH_CACHE_SUFFIX', '')}{result.env.get('DATE_CACHE_SUFFIX', '')}"
    )
    restored = actions.cache({"path": cache_dir, "key": key}, ctx)
    result.restore_ns = time.perf_counter_ns() - started
    result.ok = restored.ok
    result.log += restored.log
    result.cache = restored.cache
    result.outputs = {}  # the composite action declares no outputs
    result.post = restored.post  # actions/cache's save: after success only
    result.more_posts = [PostStep("Post Schedule cache pruning", "always()", "save", _prune)]
    return result


def wants_cache(value: str) -> bool:
    """The composite's ``if: inputs.use-cache-if == 'true'``: expressions compare strings
    case-insensitively, so ``True`` turns the cache on as on GitHub."""
    return value.lower() == "true"


def _hash(patterns: str, ctx: ActionContext) -> str:
    try:
        return hash_files(
            parse_multiline(patterns) or [patterns],
            workspace=ctx.sandbox.workspace,
            home=ctx.sandbox.home,
        )
    except HashFilesError as error:
        raise ActionError(f"hynek/setup-cached-uv: {error}") from None


def _date(arguments: str, ctx: ActionContext) -> str:
    """``$(date ${SUFFIX})``: the input split into words, as bash does unquoted."""
    done = subprocess.run(
        ["date", *arguments.split()], env=ctx.env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ActionError(f"hynek/setup-cached-uv: date {arguments}: {done.stderr.strip()}")
    return done.stdout.strip()


def _prune(ctx: ActionContext) -> ActionResult:
    """gacts/run-and-post-run's post: ``uv cache prune --ci`` in bash, with the job's env."""
    done = subprocess.run(
        ["bash", "-c", "uv cache prune --ci"],
        env=ctx.env,
        cwd=ctx.sandbox.workspace,
        capture_output=True,
        text=True,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode != 0:
        return ActionResult(ok=False, log=[*lines[-5:], f"uv cache prune exited {done.returncode}"])
    return ActionResult(ok=True, log=["uv cache prune --ci", *lines[-3:]])

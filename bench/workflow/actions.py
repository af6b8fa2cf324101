"""The built-in actions: checkout, setup-python (with ``cache:``), cache, cache/restore, cache/save.

Each takes the step's inputs (already interpolated) and the job's ``ActionContext`` and returns
an ``ActionResult``; an action that saves later returns a ``PostStep``. Inputs an action does not
know are errors, as on GitHub; inputs that change nothing on one runner are accepted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.depsets import REMOVED_LIST, Revision
from bench.errors import BenchError
from bench.ghcache import action as cache_action
from bench.ghcache.archive import resolve_cache_paths
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.ghcache.keys import parse_multiline
from bench.ghcache.store import CacheStore
from bench.network.transfer import DIRECT, Transfer
from bench.runner.measure import ProcessResult
from bench.runner.pythons import Interpreter, select_interpreter
from bench.runner.sandbox import Sandbox
from bench.workflow.cachekeys import SETUP_PYTHON_DEPENDENCY_FILES, setup_python_keys


@dataclass
class ActionContext:
    """What an action may see and touch: the runner, the store, the step's environment."""

    sandbox: Sandbox
    env: dict[str, str]  # the step's environment (PATH included)
    store: CacheStore
    checkout: Revision
    transfer: Transfer = DIRECT
    scopes: tuple[str, ...] = (cache_action.DEFAULT_SCOPE,)
    python_templates: Path | None = None  # ready venvs per version, to set up Python quickly
    os_version: str = "12"
    os_name: str = "Debian"

    def cache_runner(self) -> cache_action.Runner:
        return cache_action.Runner(
            workspace=str(self.sandbox.workspace),
            home=str(self.sandbox.home),
            temp=str(self.sandbox.temp),
            root=str(self.sandbox.root),
            path_env=self.env.get("PATH"),
        )


@dataclass
class CacheRecord:
    """What a cache step did, for the trial's record."""

    role: str  # "restore" or "save"
    key: str
    paths: list[str]
    matched_key: str = ""
    cache_hit: str = ""
    saved: bool = False
    archive_bytes: int | None = None
    listing: Path | None = None  # the archive's member listing, for the folder's size


@dataclass
class PostStep:
    label: str
    condition: str  # an if: expression, "success()" unless the action says otherwise
    phase: str
    run: Callable[[ActionContext], ActionResult]


@dataclass
class ActionResult:
    ok: bool
    outputs: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    cache: CacheRecord | None = None
    post: PostStep | None = None
    restore_ns: int = 0  # the part of the step spent restoring a cache (setup-python)
    process: ProcessResult | None = None  # a run: step's shell, measured by wait4


class ActionError(BenchError):
    """An action used in a way the harness does not support."""


Handler = Callable[[dict[str, str], ActionContext], ActionResult]

# -- actions/checkout -----------------------------------------------------------------------

_CHECKOUT_INPUTS = {
    "repository",
    "ref",
    "token",
    "ssh-key",
    "ssh-known-hosts",
    "ssh-strict",
    "ssh-user",
    "persist-credentials",
    "path",
    "clean",
    "filter",
    "sparse-checkout",
    "sparse-checkout-cone-mode",
    "fetch-depth",
    "fetch-tags",
    "show-progress",
    "lfs",
    "submodules",
    "set-safe-directory",
    "github-server-url",
}


def checkout(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    """The dependency set becomes the workspace (files get fresh times, as from git)."""
    repository = inputs.get("repository", "")
    if repository and repository != ctx.env.get("GITHUB_REPOSITORY"):
        raise ActionError(f"actions/checkout of another repository ({repository}) is not supported")
    target = _inside_workspace(ctx, inputs.get("path", ""))
    for layer in ctx.checkout.layers:
        shutil.copytree(
            layer,
            target,
            copy_function=shutil.copyfile,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("previous", REMOVED_LIST, "__pycache__", ".venv"),
        )
    for relative in ctx.checkout.removed:
        (target / relative).unlink(missing_ok=True)
    return ActionResult(ok=True, log=[f"Checked out {ctx.checkout.layers[-1]} into {target}"])


def _inside_workspace(ctx: ActionContext, relative: str) -> Path:
    target = (ctx.sandbox.workspace / relative).resolve()
    if not target.is_relative_to(ctx.sandbox.workspace):
        raise ActionError(f"path {relative!r} is outside the workspace")
    return target


# -- actions/cache, actions/cache/restore, actions/cache/save ---------------------------------

_CACHE_COMMON = {"path", "key", "enableCrossOsArchive"}
_CACHE_INPUTS = _CACHE_COMMON | {
    "restore-keys",
    "upload-chunk-size",
    "fail-on-cache-miss",
    "lookup-only",
    "save-always",
}
_RESTORE_INPUTS = _CACHE_COMMON | {"restore-keys", "fail-on-cache-miss", "lookup-only"}
_SAVE_INPUTS = _CACHE_COMMON | {"upload-chunk-size"}


def cache(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    result = cache_restore(inputs, ctx)
    if not result.ok:
        return result
    paths = parse_multiline(inputs.get("path", ""))
    key = result.outputs["cache-primary-key"]
    matched = result.outputs["cache-matched-key"] or None
    result.outputs = {"cache-hit": result.outputs["cache-hit"]}

    def save_later(post_ctx: ActionContext) -> ActionResult:
        return _save(post_ctx, paths, key, restored_key=matched)

    always = _flag(inputs, "save-always")
    result.post = PostStep("Post Cache", "always()" if always else "success()", "save", save_later)
    return result


def cache_restore(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    paths = parse_multiline(inputs.get("path", ""))
    key = inputs.get("key", "").strip()
    restored = cache_action.restore(
        ctx.store,
        ctx.cache_runner(),
        paths=paths,
        primary_key=key,
        restore_keys=parse_multiline(inputs.get("restore-keys", "")),
        scopes=ctx.scopes,
        lookup_only=_flag(inputs, "lookup-only"),
        fail_on_cache_miss=_flag(inputs, "fail-on-cache-miss"),
        transfer=ctx.transfer,
    )
    record = CacheRecord(
        role="restore",
        key=restored.primary_key,
        paths=paths,
        matched_key=restored.matched_key,
        cache_hit=restored.cache_hit,
        archive_bytes=restored.entry.size if restored.entry else None,
        listing=restored.entry.listing if restored.entry else None,
    )
    outputs = {
        "cache-hit": restored.cache_hit,
        "cache-primary-key": restored.primary_key,
        "cache-matched-key": restored.matched_key,
    }
    return ActionResult(ok=not restored.failed, outputs=outputs, log=restored.log, cache=record)


def cache_save(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    return _save(ctx, parse_multiline(inputs.get("path", "")), inputs.get("key", ""), None)


def _save(ctx: ActionContext, paths: list[str], key: str, restored_key: str | None) -> ActionResult:
    saved = cache_action.save(
        ctx.store,
        ctx.cache_runner(),
        paths=paths,
        key=key,
        scope=ctx.scopes[0],
        restored_key=restored_key,
        transfer=ctx.transfer,
    )
    record = CacheRecord(
        role="save",
        key=key.strip(),
        paths=paths,
        saved=saved.saved,
        archive_bytes=saved.entry.size if saved.entry else None,
        listing=saved.entry.listing if saved.entry else None,
    )
    return ActionResult(ok=True, log=saved.log, cache=record)  # a failed save never fails


def _flag(inputs: dict[str, str], name: str) -> bool:
    return inputs.get(name, "false").strip().lower() == "true"


# -- actions/setup-python ---------------------------------------------------------------------

_SETUP_PYTHON_INPUTS = {
    "python-version",
    "python-version-file",
    "cache",
    "architecture",
    "check-latest",
    "token",
    "cache-dependency-path",
    "update-environment",
    "allow-prereleases",
    "freethreaded",
}
_DEFAULT_DEPENDENCY_FILES = SETUP_PYTHON_DEPENDENCY_FILES


def setup_python(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    architecture = inputs.get("architecture", "x64").strip() or "x64"
    if architecture != "x64":
        raise ActionError(f"setup-python architecture {architecture!r}: this machine is x64")
    interpreter = select_interpreter(_python_spec(inputs, ctx))
    location = ctx.sandbox.tool_cache / "Python" / interpreter.version / "x64"
    install_python(interpreter, location, ctx.python_templates, ctx.env)
    result = ActionResult(
        ok=True,
        outputs={
            "python-version": interpreter.version,
            "python-path": str(location / "bin/python"),
        },
        log=[f"Successfully set up CPython ({interpreter.version})"],
    )
    if inputs.get("update-environment", "true").strip().lower() != "false":
        result.env = {
            "pythonLocation": str(location),
            "Python_ROOT_DIR": str(location),
            "Python2_ROOT_DIR": str(location),
            "Python3_ROOT_DIR": str(location),
            "PKG_CONFIG_PATH": str(location / "lib/pkgconfig"),
        }
        result.path = [str(location / "bin")]
    manager = inputs.get("cache", "").strip()
    if manager:
        _restore_for_manager(manager, inputs, ctx, interpreter, location, result)
    return result


def _python_spec(inputs: dict[str, str], ctx: ActionContext) -> str:
    spec = inputs.get("python-version", "").strip()
    version_file = inputs.get("python-version-file", "").strip() or (
        ".python-version" if not spec else ""
    )
    if not spec and version_file:
        path = ctx.sandbox.workspace / version_file
        if not path.is_file():
            raise ActionError("setup-python: give python-version (no .python-version in the repo)")
        spec = path.read_text().split()[0]
    return spec


def install_python(
    interpreter: Interpreter, location: Path, templates: Path | None, env: dict[str, str]
) -> None:
    """A venv of ``interpreter`` at ``location``, copied from a ready one when there is one.

    The copy lands at the path the template was made for, so its scripts stay valid. ``env`` is
    the runner's: the venv's pip runs with nothing of the host's PATH or home. A failure is an
    ``ActionError`` (the trial fails), never an exception that stops the run.
    """
    template = templates / interpreter.version if templates is not None else None
    if template is not None and template.is_dir():
        location.parent.mkdir(parents=True, exist_ok=True)
        _run_quietly(["cp", "-a", str(template), str(location)], env)
        return
    _run_quietly([interpreter.path, "-m", "venv", str(location)], env)
    if template is not None:
        template.parent.mkdir(parents=True, exist_ok=True)
        _run_quietly(["cp", "-a", str(location), str(template)], env)


def _run_quietly(command: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True)
    except OSError as error:
        raise ActionError(f"setup-python: cannot run {command[0]}: {error.strerror}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ActionError(
            f"setup-python: {' '.join(command[:3])} failed with exit code "
            f"{result.returncode}: {tail[0]}"
        )


def _restore_for_manager(
    manager: str,
    inputs: dict[str, str],
    ctx: ActionContext,
    interpreter: Interpreter,
    location: Path,
    result: ActionResult,
) -> None:
    if manager not in _DEFAULT_DEPENDENCY_FILES:
        raise ActionError(f"setup-python cache {manager!r} is not supported (pip, pipenv, poetry)")
    started = time.perf_counter_ns()
    patterns = (
        parse_multiline(inputs.get("cache-dependency-path", ""))
        or (_DEFAULT_DEPENDENCY_FILES[manager])
    )
    digest = _hash_dependency_files(patterns, ctx)
    if not digest and manager == "pip" and not inputs.get("cache-dependency-path"):
        digest = _hash_dependency_files(["**/pyproject.toml"], ctx)
    if not digest:
        raise ActionError(
            "setup-python: Some specified paths were not resolved, unable to cache dependencies."
        )
    step_env = ctx.env | result.env | {"PATH": ":".join([*result.path, ctx.env["PATH"]])}
    paths = _manager_cache_paths(manager, ctx, step_env, location)
    keys = setup_python_keys(
        runner_os=ctx.env["RUNNER_OS"],
        arch="x64",
        os_version=ctx.os_version,
        os_name=ctx.os_name,
        python_version=interpreter.version,
        manager=manager,
        digest=digest,
    )
    primary_key = keys.primary
    restore_keys = list(keys.restore)
    restored = cache_action.restore(
        ctx.store,
        ctx.cache_runner(),
        paths=paths,
        primary_key=primary_key,
        restore_keys=restore_keys,
        scopes=ctx.scopes,
        transfer=ctx.transfer,
    )
    hit = "true" if restored.matched_key == primary_key else "false"  # case-sensitive here
    result.outputs["cache-hit"] = hit
    result.log += restored.log
    result.restore_ns = time.perf_counter_ns() - started
    result.cache = CacheRecord(
        role="restore",
        key=primary_key,
        paths=paths,
        matched_key=restored.matched_key,
        cache_hit=hit,
        archive_bytes=restored.entry.size if restored.entry else None,
        listing=restored.entry.listing if restored.entry else None,
    )
    matched = restored.matched_key or None

    def save_later(post_ctx: ActionContext) -> ActionResult:
        existing = resolve_cache_paths(
            paths, workspace=str(post_ctx.sandbox.workspace), home=str(post_ctx.sandbox.home)
        )
        if not existing:
            return ActionResult(
                ok=False,
                log=[
                    f"Cache folder path is retrieved for {manager} but doesn't exist on disk: "
                    + ", ".join(paths)
                ],
            )
        return _save(post_ctx, paths, primary_key, restored_key=matched)

    result.post = PostStep("Post Setup Python", "success()", "save", save_later)


def _hash_dependency_files(patterns: list[str], ctx: ActionContext) -> str:
    try:
        return hash_files(
            patterns,
            workspace=ctx.sandbox.workspace,
            home=ctx.sandbox.home,
            follow_symbolic_links=True,
        )
    except HashFilesError as error:
        raise ActionError(f"setup-python: {error}") from None


def _manager_cache_paths(
    manager: str, ctx: ActionContext, env: dict[str, str], location: Path
) -> list[str]:
    """The folder setup-python caches: ``pip cache dir``, pipenv's virtualenvs, or poetry's
    ``virtualenvs.path`` with ``{cache-dir}`` filled in from ``poetry config cache-dir``."""
    if manager == "pipenv":
        return [os.path.join(ctx.sandbox.home, ".local/share/virtualenvs")]
    if manager == "pip":
        return [_tool_output([str(location / "bin/pip"), "cache", "dir"], manager, ctx, env)]
    path = _tool_output(["poetry", "config", "virtualenvs.path"], manager, ctx, env)
    if "{cache-dir}" in path:
        cache_dir = _tool_output(["poetry", "config", "cache-dir"], manager, ctx, env)
        path = path.replace("{cache-dir}", cache_dir)
    return [path]


def _tool_output(command: list[str], manager: str, ctx: ActionContext, env: dict[str, str]) -> str:
    try:
        out = subprocess.run(
            command, env=env, cwd=ctx.sandbox.workspace, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        raise ActionError(
            f"setup-python cache {manager!r}: cannot run {' '.join(command)}; "
            f"install {manager} before setup-python"
        ) from None
    lines = out.strip().splitlines()
    if not lines:
        raise ActionError(f"setup-python cache {manager!r}: {' '.join(command)} printed nothing")
    return lines[-1].strip()


BUILTIN_ACTIONS: dict[str, tuple[Handler, set[str], str]] = {
    # name: (handler, accepted inputs, phase of the main step)
    "actions/checkout": (checkout, _CHECKOUT_INPUTS, "setup"),
    "actions/setup-python": (setup_python, _SETUP_PYTHON_INPUTS, "setup"),
    "actions/cache": (cache, _CACHE_INPUTS, "restore"),
    "actions/cache/restore": (cache_restore, _RESTORE_INPUTS, "restore"),
    "actions/cache/save": (cache_save, _SAVE_INPUTS, "save"),
}


def find_action(uses: str) -> tuple[Handler, set[str], str]:
    name = uses.split("@", 1)[0].strip().rstrip("/")
    if name not in BUILTIN_ACTIONS:
        known = ", ".join(sorted(BUILTIN_ACTIONS))
        raise ActionError(f"action {uses!r} is not supported (supported: {known})")
    return BUILTIN_ACTIONS[name]

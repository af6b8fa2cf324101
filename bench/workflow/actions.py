"""What every action handler sees and returns, and the simplest built-ins: checkout, cache,
cache/restore, cache/save (setup-python, setup-uv and the stand-ins have modules of their own).

Each takes the step's inputs (already interpolated) and the job's ``ActionContext`` and returns
an ``ActionResult``; an action that saves later returns a ``PostStep``. Inputs an action does not
know are errors, as on GitHub; inputs that change nothing on one runner are accepted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.depsets import REMOVED_LIST, Revision
from bench.errors import BenchError
from bench.ghcache import action as cache_action
from bench.ghcache.keys import parse_multiline
from bench.ghcache.store import CacheStore
from bench.network.transfer import DIRECT, Transfer
from bench.runner.measure import ProcessResult
from bench.runner.sandbox import Sandbox
from bench.workflow.refs import ActionRef


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
    action: ActionRef | None = None  # the step's uses:, for behaviour that follows its version
    workflow_name: str = ""  # github.workflow
    job_id: str = ""  # github.job

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


def restore_record(
    key: str, paths: list[str], restored: cache_action.RestoreResult, cache_hit: str
) -> CacheRecord:
    """The record of a restore, as every action that restores a cache keeps it."""
    return CacheRecord(
        role="restore",
        key=key,
        paths=paths,
        matched_key=restored.matched_key,
        cache_hit=cache_hit,
        archive_bytes=restored.entry.size if restored.entry else None,
        listing=restored.entry.listing if restored.entry else None,
    )


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
    more_posts: list[PostStep] = field(default_factory=list)  # after ``post`` (run before it)
    restore_ns: int = 0  # the part of the step spent restoring a cache (setup-python, -uv)
    stand_in: bool = False  # a stand-in's no-op (recorded, and named in the report)
    # what the machine put in place of what the step asked (a newer Python or node): recorded
    # on the step and named in the report beside the stand-ins
    substitutions: list[str] = field(default_factory=list)
    process: ProcessResult | None = None  # a run: step's shell, measured by wait4


class ActionError(BenchError):
    """An action used in a way the harness does not support."""


Handler = Callable[[dict[str, str], ActionContext], ActionResult]

# -- actions/checkout -----------------------------------------------------------------------


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
            copy_function=_copy_as_git_does,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("previous", REMOVED_LIST, "__pycache__", ".venv"),
        )
    for relative in ctx.checkout.removed:
        (target / relative).unlink(missing_ok=True)
    return ActionResult(ok=True, log=[f"Checked out {ctx.checkout.layers[-1]} into {target}"])


def _copy_as_git_does(source: str, target: str) -> str:
    """The content, fresh times and git's one mode bit: executable (0755) or not (0644)."""
    shutil.copyfile(source, target)
    os.chmod(target, 0o755 if os.stat(source).st_mode & 0o100 else 0o644)
    return target


def _inside_workspace(ctx: ActionContext, relative: str) -> Path:
    target = (ctx.sandbox.workspace / relative).resolve()
    if not target.is_relative_to(ctx.sandbox.workspace):
        raise ActionError(f"path {relative!r} is outside the workspace")
    return target


# -- actions/cache, actions/cache/restore, actions/cache/save ---------------------------------


def cache(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    result = cache_restore(inputs, ctx)
    if not result.ok:
        return result
    paths = parse_multiline(inputs.get("path", ""))
    key = result.outputs["cache-primary-key"]
    matched = result.outputs["cache-matched-key"] or None
    result.outputs = {"cache-hit": result.outputs["cache-hit"]}

    def save_later(post_ctx: ActionContext) -> ActionResult:
        return save_cache(post_ctx, paths, key, restored_key=matched)

    always = flag(inputs, "save-always")
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
        lookup_only=flag(inputs, "lookup-only"),
        fail_on_cache_miss=flag(inputs, "fail-on-cache-miss"),
        transfer=ctx.transfer,
    )
    record = restore_record(restored.primary_key, paths, restored, restored.cache_hit)
    outputs = {
        "cache-hit": restored.cache_hit,
        "cache-primary-key": restored.primary_key,
        "cache-matched-key": restored.matched_key,
    }
    return ActionResult(ok=not restored.failed, outputs=outputs, log=restored.log, cache=record)


def cache_save(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    return save_cache(ctx, parse_multiline(inputs.get("path", "")), inputs.get("key", ""), None)


def save_cache(
    ctx: ActionContext, paths: list[str], key: str, restored_key: str | None
) -> ActionResult:
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


def flag(inputs: dict[str, str], name: str) -> bool:
    return inputs.get(name, "false").strip().lower() == "true"

"""actions/setup-node: the machine's node, and the action's ``cache:`` of npm, yarn or pnpm.

The version comes from ``node-version``, else ``node-version-file`` (``.nvmrc``,
``.node-version``, ``.tool-versions``, ``mise.toml``, ``package.json``'s ``volta.node``,
``devEngines.runtime`` or ``engines.node``). The machine's node is put in the tool cache (links)
and on ``PATH``; when it does not satisfy the version it stands in (``nodeversions``).

``cache:`` follows the action: the lock file (``cache-dependency-path``, else the first of the
manager's lock files at the workspace's root) hashed into ``node-cache-Linux-x64-<manager>-<hash>``,
no restore keys, the folder from the manager (``npm config get cache``; yarn 1's ``yarn cache
dir``, or its default ``~/.cache/yarn/v6`` when no yarn is installed, as the hosted image's
yarn 1 says; ``pnpm store path``), saved after success unless the key hit. npm named in
``package.json``'s ``devEngines.packageManager`` or ``packageManager`` turns the npm cache on, as
the action does from v5. ``NPM_CONFIG_PREFIX`` is the tool cache's node folder, as npm derives
it from the real action's node there: ``npm install -g`` stays in the runner. Yarn berry's
locally managed caches (restored from the key's prefix on GitHub) are not told apart. Nothing
here reaches a network: installing the JavaScript packages is the job's own steps' business.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

from bench.ghcache import action as cache_action
from bench.ghcache.archive import resolve_cache_paths
from bench.ghcache.glob import BrokenSymlink, GlobOptions, InvalidPattern, glob, parse_pattern_lines
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.ghcache.keys import parse_multiline
from bench.workflow.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    PostStep,
    restore_record,
    save_cache,
)
from bench.workflow.nodeversions import machine_node, satisfies, stand_in_words

LOCK_FILES = {
    "npm": ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock"],
    "pnpm": ["pnpm-lock.yaml"],
    "yarn": ["yarn.lock"],
}
_TOOLS = ("node", "npm", "npx", "corepack")


def setup_node(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    result = ActionResult(ok=True)
    spec = _version_spec(inputs, ctx, result.log)
    found = machine_node(ctx.env["PATH"])
    if found is None:
        raise ActionError("setup-node: no node on this machine to stand for any version")
    node, version = found
    if spec:
        if satisfies(version, spec):
            result.log.append(f"Found in cache @ {_install(node, version, ctx, result)}")
        else:
            words = stand_in_words(spec, version)
            _install(node, version, ctx, result)
            result.log.append(f"Notice: {words}")
            result.substitutions.append(words)
    result.outputs["node-version"] = f"v{version}"
    manager = inputs.get("cache", "").strip()
    automatic = ctx.action is None or ctx.action.at_least(5)
    wanted = inputs.get("package-manager-cache", "true").strip().lower() == "true"
    if not manager and automatic and wanted:
        manager = _npm_from_package_json(ctx.sandbox.workspace)
        if manager:
            result.log.append("Detected npm as the package manager from package.json's field")
    if manager:
        _restore(manager, inputs.get("cache-dependency-path", ""), ctx, result)
    return result


def _version_spec(inputs: dict[str, str], ctx: ActionContext, log: list[str]) -> str:
    spec = inputs.get("node-version", "").strip()
    file_name = inputs.get("node-version-file", "").strip()
    if spec or not file_name:
        return spec
    path = ctx.sandbox.workspace / file_name
    if not path.is_file():
        raise ActionError(f"setup-node: The specified node version file at: {path} does not exist")
    try:
        spec = version_from_file(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ActionError(
            f"setup-node: cannot read the node version file {path}: {error}"
        ) from None
    log.append(f"Resolved {file_name} as {spec}")
    return spec


def version_from_file(text: str) -> str:
    """The action's reading of a version file (JSON, then TOML, then a line of text)."""
    try:
        manifest = json.loads(text)
    except ValueError:
        manifest = None
    if isinstance(manifest, dict):
        volta = manifest.get("volta") or {}
        if isinstance(volta, dict) and volta.get("node"):
            return str(volta["node"])
        dev_engines = manifest.get("devEngines")
        runtime = dev_engines.get("runtime") if isinstance(dev_engines, dict) else None
        for entry in runtime if isinstance(runtime, list) else [runtime]:
            named = isinstance(entry, dict) and str(entry.get("name", "")).lower() == "node"
            if named and entry.get("version"):
                return str(entry["version"])
        engines = manifest.get("engines") or {}
        return str(engines.get("node", "")) if isinstance(engines, dict) else ""
    try:
        tools = tomllib.loads(text).get("tools", {})
        node = tools.get("node") if isinstance(tools, dict) else None
        if isinstance(node, dict) and node.get("version"):
            return str(node["version"])
        if isinstance(node, str):
            return node
    except tomllib.TOMLDecodeError:
        pass
    found = re.search(r"^(?:node(?:js)?\s+)?v?(\S+)$", text, re.M)
    return found.group(1) if found else text.strip()


def _install(node: str, version: str, ctx: ActionContext, result: ActionResult) -> Path:
    """The machine's node in the tool cache (links to its tools), its ``bin`` on PATH."""
    location = ctx.sandbox.tool_cache / "node" / version / "x64"
    (location / "bin").mkdir(parents=True, exist_ok=True)
    here = Path(node).parent
    for tool in _TOOLS:
        source, target = here / tool, location / "bin" / tool
        if source.exists() and not target.exists():
            target.symlink_to(source.resolve())
    result.path.append(str(location / "bin"))
    # npm's global prefix follows its node's real path (/usr here): keep -g in the runner
    result.env["NPM_CONFIG_PREFIX"] = str(location)
    return location


def _npm_from_package_json(workspace: Path) -> str:
    try:
        manifest = json.loads((workspace / "package.json").read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(manifest, dict):
        return ""
    npm = re.compile(r"^\^?npm(@.*)?$")
    dev_engines = manifest.get("devEngines")
    declared = dev_engines.get("packageManager") if isinstance(dev_engines, dict) else None
    for entry in declared if isinstance(declared, list) else [declared] if declared else []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and npm.match(name):
            return "npm"
    field = manifest.get("packageManager")
    return "npm" if isinstance(field, str) and npm.match(field) else ""


def _restore(manager: str, dependency_path: str, ctx: ActionContext, result: ActionResult) -> None:
    if manager not in LOCK_FILES:
        raise ActionError(f"setup-node: Caching for '{manager}' is not supported")
    started = time.perf_counter_ns()
    env = ctx.env | {"PATH": ":".join([*result.path, ctx.env["PATH"]])}
    patterns = parse_multiline(dependency_path) or [_lock_file(manager, ctx.sandbox.workspace)]
    paths = _cache_folders(manager, patterns if dependency_path else [], ctx, env, result.log)
    try:
        digest = hash_files(patterns, workspace=ctx.sandbox.workspace, home=ctx.sandbox.home)
    except HashFilesError as error:
        raise ActionError(f"setup-node: {error}") from None
    if not digest:
        raise ActionError(
            "setup-node: Some specified paths were not resolved, unable to cache dependencies."
        )
    key = f"node-cache-{ctx.env.get('RUNNER_OS', 'Linux')}-x64-{manager}-{digest}"
    restored = cache_action.restore(
        ctx.store,
        ctx.cache_runner(),
        paths=paths,
        primary_key=key,
        scopes=ctx.scopes,
        transfer=ctx.transfer,
    )
    matched = restored.matched_key
    result.log += restored.log if matched else [*restored.log, f"{manager} cache is not found"]
    result.outputs |= {
        "cache-hit": "true" if matched else "false",
        "cache-primary-key": key,
        "cache-matched-key": matched,
    }
    result.restore_ns = time.perf_counter_ns() - started
    result.cache = restore_record(key, paths, restored, result.outputs["cache-hit"])

    def save_later(post_ctx: ActionContext) -> ActionResult:
        if matched == key:
            return ActionResult(
                ok=True, log=[f"Cache hit occurred on the primary key {key}, not saving cache."]
            )
        existing = resolve_cache_paths(
            paths, workspace=str(post_ctx.sandbox.workspace), home=str(post_ctx.sandbox.home)
        )
        if not existing:
            return ActionResult(
                ok=False,
                log=[
                    "Path Validation Error: Path(s) specified in the action for caching do(es) "
                    "not exist, hence no cache is being saved."
                ],
            )
        return save_cache(post_ctx, paths, key, restored_key=matched or None)

    result.post = PostStep("Post Setup Node", "success()", "save", save_later)


def _lock_file(manager: str, workspace: Path) -> str:
    names = {p.name for p in workspace.iterdir()} if workspace.is_dir() else set()
    found = next((name for name in LOCK_FILES[manager] if name in names), None)
    if found is None:
        raise ActionError(
            f"setup-node: Dependencies lock file is not found in {workspace}. Supported file "
            f"patterns: {','.join(LOCK_FILES[manager])}"
        )
    return found


def _cache_folders(
    manager: str, patterns: list[str], ctx: ActionContext, env: dict[str, str], log: list[str]
) -> list[str]:
    """The manager's cache folder, per project folder for yarn with cache-dependency-path."""
    workspace = ctx.sandbox.workspace
    if manager == "npm":
        return [_output(["npm", "config", "get", "cache"], workspace, env, manager)]
    if manager == "pnpm":
        return [_output(["pnpm", "store", "path", "--silent"], workspace, env, manager)]
    folders = [workspace]
    if patterns:
        folders = _project_folders(patterns, ctx)
        if not folders:
            raise ActionError(
                "setup-node: No existing directories found containing cache-dependency-path="
                + " ".join(patterns)
            )
    found: list[str] = []
    for folder in folders:
        path = _yarn_folder(folder, env, log)
        if path not in found:
            found.append(path)
    return found


def _project_folders(patterns: list[str], ctx: ActionContext) -> list[Path]:
    """The folders of the files ``cache-dependency-path`` matches, by ``@actions/glob``
    (absolute patterns such as ``${{ github.workspace }}/yarn.lock`` included)."""
    try:
        matches = list(
            glob(
                parse_pattern_lines("\n".join(patterns)),
                home=str(ctx.sandbox.home),
                workdir=str(ctx.sandbox.workspace),
                options=GlobOptions(),
            )
        )
    except (InvalidPattern, BrokenSymlink) as error:
        raise ActionError(f"setup-node: cache-dependency-path: {error}") from None
    return sorted({Path(match).parent for match in matches if Path(match).parent.is_dir()})


def _yarn_folder(folder: Path, env: dict[str, str], log: list[str]) -> str:
    if shutil.which("yarn", path=env["PATH"]) is None:
        base = env.get("XDG_CACHE_HOME") or os.path.join(env["HOME"], ".cache")
        log.append("yarn is not installed here: yarn 1's cache folder (the hosted image's yarn)")
        return os.path.join(base, "yarn", "v6")
    version = _output(["yarn", "--version"], folder, env, "yarn")
    berry = ["yarn", "config", "get", "cacheFolder"]
    command = ["yarn", "cache", "dir"] if version.startswith("1.") else berry
    return _output(command, folder, env, "yarn")


def _output(command: list[str], cwd: Path, env: dict[str, str], manager: str) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    except OSError:
        raise ActionError(
            f"setup-node: Unable to locate executable file: {command[0]} (install {manager} "
            "before setup-node)"
        ) from None
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ActionError(f"setup-node: Could not get {manager} cache folder path: {tail}")
    return done.stdout.strip().splitlines()[-1].strip()

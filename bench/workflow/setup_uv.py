"""astral-sh/setup-uv: uv from the mirror, and the action's cache exactly as spec section 8.

The release action downloads uv's binary; here the same binary comes out of the ``uv`` wheel
on the mirror (the wheel ships it as a script), so installing uv is the step's setup phase
and its download is counted like any other. The cache's restore is split out as ``restore``;
its save runs in the post step (phase ``save``), after ``uv cache prune --ci`` when pruning.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import time
import tomllib
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from bench.errors import BenchError
from bench.ghcache import action as cache_action
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.workflow.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    PostStep,
    restore_record,
    save_cache,
)
from bench.workflow.interpreters import choose_interpreter, uv_python_choice
from bench.workflow.runnerpaths import runner_path
from bench.workflow.setup_python import install_python
from bench.workflow.uvkey import (
    UvKeyParts,
    dependency_patterns,
    enable_cache_default,
    prune_default,
    setup_uv_key,
)

_NO_CACHE_EVENTS = {"pull_request_target", "workflow_run", "release"}


@dataclass(frozen=True)
class UvSettings:
    """The inputs, resolved as the action resolves them."""

    working_directory: Path
    enable_cache: bool
    cache_local_path: str | None
    dependency_glob: list[str]
    python_version: str
    prune: bool
    cache_python: bool
    suffix: str
    restore: bool
    save: bool
    ignore_nothing_to_cache: bool
    activate: bool
    venv_path: Path


def settings(inputs: dict[str, str], ctx: ActionContext) -> UvSettings:
    env, home = ctx.env, str(ctx.sandbox.home)
    working = _resolve(ctx.sandbox.workspace, inputs.get("working-directory", ""), home)
    enable_input = inputs.get("enable-cache", "").strip() or enable_cache_default(ctx.action)
    enable = _enable_cache(enable_input, env)
    local = _cache_local_path(inputs, working, env, home, enable)
    if local is not None:  # never a folder of this machine outside the runner
        local = runner_path(local, ctx, "astral-sh/setup-uv: cache-local-path")
    return UvSettings(
        working_directory=working,
        enable_cache=enable,
        cache_local_path=local,
        dependency_glob=dependency_patterns(
            inputs.get("cache-dependency-glob"), working, home, ctx.action
        ),
        python_version=inputs.get("python-version", "").strip(),
        prune=_bool(inputs, "prune-cache", prune_default(ctx.action)),
        cache_python=_bool(inputs, "cache-python", False),
        suffix=inputs.get("cache-suffix", "").strip(),
        restore=_bool(inputs, "restore-cache", True),
        save=_bool(inputs, "save-cache", True),
        ignore_nothing_to_cache=_bool(inputs, "ignore-nothing-to-cache", False),
        activate=_bool(inputs, "activate-environment", False),
        venv_path=_resolve(working, inputs.get("venv-path", "") or ".venv", home),
    )


def _bool(inputs: dict[str, str], name: str, default: bool) -> bool:
    value = inputs.get(name, "").strip().lower()
    return default if not value else value == "true"


def _resolve(base: Path, text: str, home: str) -> Path:
    text = text.strip()
    if text.startswith("~"):
        text = home + text[1:]
    return Path(os.path.normpath(base / text)) if text else base


def _enable_cache(value: str, env: dict[str, str]) -> bool:
    if value != "auto":
        return value.lower() == "true"
    if env.get("RUNNER_ENVIRONMENT") != "github-hosted":
        return False
    event = env.get("GITHUB_EVENT_NAME", "")
    tag_push = event == "push" and env.get("GITHUB_REF", "").startswith("refs/tags/")
    return not tag_push and event not in _NO_CACHE_EVENTS


def _cache_local_path(
    inputs: dict[str, str], working: Path, env: dict[str, str], home: str, enabled: bool
) -> str | None:
    """cache-local-path; else cache-dir in uv.toml or pyproject.toml; else UV_CACHE_DIR; else
    ``$RUNNER_TEMP/setup-uv-cache`` on a hosted runner."""
    given = inputs.get("cache-local-path", "").strip()
    if given:
        return str(_resolve(working, given, home))
    for name in ("uv.toml", "pyproject.toml"):
        configured = _configured_cache_dir(working / name)
        if configured:
            return configured
    if env.get("UV_CACHE_DIR"):
        return env["UV_CACHE_DIR"]
    return os.path.join(env["RUNNER_TEMP"], "setup-uv-cache") if enabled else None


def _configured_cache_dir(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    table = data if path.name == "uv.toml" else data.get("tool", {}).get("uv", {})
    value = table.get("cache-dir") if isinstance(table, dict) else None
    return str(value) if value else None


# -- installing uv ------------------------------------------------------------------------------


def install_uv(version_spec: str, ctx: ActionContext) -> tuple[str, Path]:
    """uv and uvx from the mirror's wheel into the tool cache; (version, folder)."""
    return install_wheel_binary("uv", version_spec, ctx, "setup-uv")


def install_wheel_binary(
    project: str, version_spec: str, ctx: ActionContext, action: str
) -> tuple[str, Path]:
    """The binaries a wheel ships as scripts (uv's, ruff's) from the mirror into
    ``<tool cache>/<project>/<version>/x86_64``; (version, folder)."""
    index = ctx.env.get("PIP_INDEX_URL")
    if not index:
        raise ActionError(f"{action}: no package index to install {project} from (no mirror)")
    page_url = urljoin(index if index.endswith("/") else index + "/", f"{project}/")
    request = urllib.request.Request(
        page_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        page = json.load(response)
    wheels = []
    for entry in page.get("files", []):
        name = entry["filename"]
        if name.endswith(".whl") and (("x86_64" in name and "linux" in name) or "-any." in name):
            try:
                wheels.append((Version(name.split("-")[1]), entry))
            except InvalidVersion:
                continue
    wanted = _version_filter(version_spec, action)
    wheels = sorted((w for w in wheels if wanted(w[0])), key=lambda w: w[0])
    if not wheels:
        raise ActionError(f"{action}: no {project} wheel for version {version_spec or 'latest'!r}")
    version, entry = wheels[-1]
    folder = ctx.sandbox.tool_cache / project / str(version) / "x86_64"
    if (folder / project).is_file():
        return str(version), folder
    with urllib.request.urlopen(urljoin(page_url, entry["url"]), timeout=300) as response:
        data = response.read()
    expected = entry.get("hashes", {}).get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise ActionError(f"{action}: {entry['filename']} does not match its sha256")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for member in wheel.namelist():
            parts = member.split("/")
            if len(parts) == 3 and parts[0].endswith(".data") and parts[1] == "scripts":
                target = folder / parts[2]
                target.write_bytes(wheel.read(member))
                target.chmod(0o755)
    if not (folder / project).is_file():
        raise ActionError(f"{action}: {entry['filename']} holds no {project} binary")
    return str(version), folder


def _version_filter(spec: str, action: str = "setup-uv"):
    spec = spec.strip()
    if not spec or spec in ("latest", "latest-known"):
        return lambda version: not version.is_prerelease
    try:
        specifier = SpecifierSet(spec if spec[0] in "<>=!~" else f"=={spec}")
    except InvalidSpecifier:
        raise ActionError(f"{action}: version {spec!r} is not a version or range") from None
    return lambda version: version in specifier


def _requested_version(inputs: dict[str, str], working: Path) -> str:
    """``version``; else ``required-version`` in uv.toml or pyproject.toml; else latest."""
    if inputs.get("version", "").strip():
        return inputs["version"].strip()
    for name in (inputs.get("version-file", "").strip(), "uv.toml", "pyproject.toml"):
        path = working / name if name else None
        if path is None or not path.is_file() or path.suffix != ".toml":
            continue
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError:
            continue
        table = data if path.name == "uv.toml" else data.get("tool", {}).get("uv", {})
        if isinstance(table, dict) and table.get("required-version"):
            return str(table["required-version"])
    return "latest"


# -- the action -----------------------------------------------------------------------------


def setup_uv(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    chosen = settings(inputs, ctx)
    if not chosen.working_directory.is_dir():
        raise ActionError(f"setup-uv: working-directory {chosen.working_directory} does not exist")
    version, folder = install_uv(_requested_version(inputs, chosen.working_directory), ctx)
    result = ActionResult(ok=True, log=[f"Successfully installed uv version {version}"])
    python_dir = os.path.join(ctx.env["RUNNER_TEMP"], "uv-python-dir")
    result.path = [str(ctx.sandbox.home / ".local/bin"), str(folder), python_dir]
    result.env["UV_PYTHON_INSTALL_DIR"] = python_dir
    result.outputs = {
        "uv-version": version,
        "uv-path": str(folder / "uv"),
        "uvx-path": str(folder / "uvx"),
    }
    if chosen.python_version:
        result.env["UV_PYTHON"] = _uv_python(chosen.python_version, result)
    _managed_python(
        result.env.get("UV_PYTHON") or _python_version_file(chosen.working_directory),
        Path(python_dir), ctx, result,
    )  # fmt: skip
    env = _with(ctx.env, result)
    if chosen.activate:
        _run([str(folder / "uv"), "venv", str(chosen.venv_path), "--directory",
              str(chosen.working_directory), "--clear"], env, chosen.working_directory)  # fmt: skip
        result.path.append(str(chosen.venv_path / "bin"))
        result.env["VIRTUAL_ENV"] = str(chosen.venv_path)
        result.outputs["venv"] = str(chosen.venv_path)
    if chosen.cache_local_path is not None:
        result.env["UV_CACHE_DIR"] = chosen.cache_local_path
        result.log.append(f"Set UV_CACHE_DIR to {chosen.cache_local_path}")
    env = _with(ctx.env, result)
    python = chosen.python_version or _found_python(folder / "uv", chosen, env)
    result.outputs["python-version"] = python
    if chosen.enable_cache:
        _restore(chosen, python, ctx, result)
    return result


def _uv_python(asked: str, result: ActionResult) -> str:
    """``UV_PYTHON``: as asked, or the machine's newest standing in for a newer CPython (uv
    would download it); the key keeps the input as written, as on GitHub."""
    try:
        choice = uv_python_choice(asked)
    except BenchError:
        return asked  # uv reports it when a step asks for it
    if choice is None or choice.stood_in is None:
        return asked
    result.log.append(f"Notice: {choice.stood_in}")
    result.substitutions.append(choice.stood_in)
    return choice.interpreter.version


def _python_version_file(folder: Path) -> str | None:
    """The first version ``.python-version`` names (uv reads it for its request)."""
    try:
        lines = (folder / ".python-version").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    words = [line.split("#")[0].strip() for line in lines]
    return next((w for w in words if w), None)


def _managed_python(
    request: str | None, python_dir: Path, ctx: ActionContext, result: ActionResult
) -> None:
    """The Python uv would download on a hosted runner, from this machine instead.

    With a version asked for (``python-version``, or ``.python-version``), uv on GitHub finds
    no such interpreter on PATH and downloads a managed one into ``UV_PYTHON_INSTALL_DIR``;
    here downloads are off, and the machine's interpreters are not on PATH. So the machine's
    interpreter for the request is copied (as setup-python's is) into that folder under the
    name uv gives a managed install, where uv finds it. Nothing when the request is unknown
    or matches none here (uv then says so when a step needs it)."""
    if not request:
        return
    try:
        interpreter = choose_interpreter(request).interpreter
    except BenchError:
        return
    name = f"cpython-{interpreter.version}-linux-x86_64-gnu"
    templates = ctx.python_templates / "uv-managed" if ctx.python_templates else None
    install_python(interpreter, python_dir / name, templates, ctx.env)
    result.log.append(f"Python {interpreter.version} for uv in {python_dir / name}")


def _with(env: dict[str, str], result: ActionResult) -> dict[str, str]:
    """The step's environment with what the action exports so far (its PATH entries first)."""
    return env | result.env | {"PATH": ":".join([*reversed(result.path), env["PATH"]])}


def _run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ActionError(f"setup-uv: {' '.join(command[:3])}: {tail}")
    return done.stdout


def _found_python(uv: Path, chosen: UvSettings, env: dict[str, str]) -> str:
    """The full version ``uv python find`` reports, else ``unknown``."""
    try:
        path = _run([str(uv), "python", "find", "--directory", str(chosen.working_directory)],
                    env, chosen.working_directory).strip()  # fmt: skip
        words = _run([path, "--version"], env, chosen.working_directory).split()
        return words[1] if len(words) > 1 else "unknown"
    except (ActionError, OSError):
        return "unknown"


def cache_key(
    chosen: UvSettings, python: str, uv_version: str, ctx: ActionContext, log: list[str]
) -> str:
    try:
        digest = hash_files(
            chosen.dependency_glob,
            workspace=ctx.sandbox.workspace,
            home=ctx.sandbox.home,
            follow_symbolic_links=True,
            workspace_only=False,
        )
    except HashFilesError as error:
        raise ActionError(f"setup-uv: {error}") from None
    if not digest and ctx.action is not None and not ctx.action.at_least(5):
        raise ActionError(
            f"setup-uv: No file matched to [{','.join(chosen.dependency_glob)}], make sure you "
            "have checked out the target repository"
        )
    if not digest:
        log.append(
            f"Warning: No file matched to [{','.join(chosen.dependency_glob)}]. The cache will "
            "never get invalidated."
        )
    parts = UvKeyParts(
        python=python,
        files_hash=digest,
        os_name_version=f"{ctx.os_name.lower()}-{ctx.os_version}",
        pruned=chosen.prune,
        cache_python=chosen.cache_python,
        suffix=chosen.suffix,
        uv_version=uv_version,
    )
    return setup_uv_key(parts, ctx.action)


def _restore(chosen: UvSettings, python: str, ctx: ActionContext, result: ActionResult) -> None:
    started = time.perf_counter_ns()
    key = cache_key(chosen, python, result.outputs["uv-version"], ctx, result.log)
    result.outputs["cache-key"] = key
    assert chosen.cache_local_path is not None
    paths = [chosen.cache_local_path]
    python_dir = result.env["UV_PYTHON_INSTALL_DIR"]
    matched = python_matched = ""
    if not chosen.restore:
        result.log.append("restore-cache is false. Skipping restore cache step.")
        result.outputs |= {"cache-hit": "false", "python-cache-hit": "false"}
    else:
        result.log.append(f"Trying to restore cache from GitHub Actions cache with key: {key}")
        restored = _restore_one(ctx, paths, key)
        matched = restored.matched_key
        result.log += restored.log
        result.outputs["cache-hit"] = "true" if matched else "false"  # true on any match
        result.cache = restore_record(key, paths, restored, result.outputs["cache-hit"])
        result.outputs["python-cache-hit"] = "false"
        if chosen.cache_python:
            python_restored = _restore_one(ctx, [python_dir], f"{key}-python")
            python_matched = python_restored.matched_key
            result.outputs["python-cache-hit"] = "true" if python_matched else "false"
    result.restore_ns = time.perf_counter_ns() - started

    def save_later(post_ctx: ActionContext) -> ActionResult:
        return _save(chosen, key, matched, python_matched, python_dir, post_ctx)

    result.post = PostStep("Post Run astral-sh/setup-uv", "success()", "save", save_later)


def _restore_one(ctx: ActionContext, paths: list[str], key: str) -> cache_action.RestoreResult:
    return cache_action.restore(
        ctx.store,
        ctx.cache_runner(),
        paths=paths,
        primary_key=key,
        restore_keys=[],  # none are passed; the service still prefix-matches the key
        scopes=ctx.scopes,
        transfer=ctx.transfer,
    )


def _save(
    chosen: UvSettings,
    key: str,
    matched: str,
    python_matched: str,
    python_dir: str,
    ctx: ActionContext,
) -> ActionResult:
    if not chosen.save:
        return ActionResult(ok=True, log=["save-cache is false. Skipping save cache step."])
    log: list[str] = []
    result = ActionResult(ok=True, log=log)
    if matched == key:
        log.append(f"Cache hit occurred on key {key}, not saving cache.")
    else:
        path = chosen.cache_local_path or ""
        if ctx.env.get("UV_CACHE_DIR") and ctx.env["UV_CACHE_DIR"] != path:
            log.append(f"Warning: UV_CACHE_DIR was changed to {ctx.env['UV_CACHE_DIR']}")
            path = ctx.env["UV_CACHE_DIR"]
        if chosen.prune:
            log.append("Pruning cache...")
            _prune(ctx)
        if not os.path.exists(path) and not chosen.ignore_nothing_to_cache:
            return ActionResult(
                ok=False,
                log=[
                    *log,
                    f"Error: Cache path {path} does not exist on disk. This likely indicates "
                    "that there are no dependencies to cache. Consider disabling the cache "
                    "input if it is not needed.",
                ],
            )
        if os.path.exists(path):
            saved = save_cache(ctx, [path], key, restored_key=None)
            log += saved.log
            result.cache = saved.cache
        else:
            log.append(
                "No cacheable uv cache paths were found. Ignoring (ignore-nothing-to-cache)."
            )
    if chosen.cache_python and python_matched != f"{key}-python":
        if os.path.exists(python_dir):
            log += save_cache(ctx, [python_dir], f"{key}-python", restored_key=None).log
        elif not chosen.ignore_nothing_to_cache:
            result.ok = False
            log.append(f"Error: Python cache path {python_dir} does not exist on disk.")
    return result


def _prune(ctx: ActionContext) -> None:
    """``uv cache prune --ci`` (with ``--force`` from uv 0.8.24, as the action does)."""
    uv = next(
        (Path(p) / "uv" for p in ctx.env["PATH"].split(":") if (Path(p) / "uv").is_file()), None
    )
    if uv is None:
        raise ActionError("setup-uv: uv is not on PATH for the post step's prune")
    version = _run([str(uv), "--version"], ctx.env, ctx.sandbox.workspace).split()[1]
    command = [str(uv), "cache", "prune", "--ci"]
    if Version(version) >= Version("0.8.24"):
        command.append("--force")
    _run(command, ctx.env, ctx.sandbox.workspace)

"""actions/setup-python: an interpreter found on this machine, and its ``cache:`` (spec, 7).

A hosted runner downloads CPython into its tool cache; here the matching interpreter already on
the machine is copied in (``install_python``). ``python-version-file`` reads ``.python-version`` or
``pyproject.toml``'s ``requires-python``; ``pip-version`` and ``pip-install`` run pip from the
mirror; ``allow-prereleases`` and ``check-latest`` change nothing here (the machine's newest
matching interpreter is used either way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

from bench.ghcache import action as cache_action
from bench.ghcache.archive import resolve_cache_paths
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.ghcache.keys import parse_multiline
from bench.runner.pythons import Interpreter
from bench.workflow.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    PostStep,
    flag,
    restore_record,
    save_cache,
)
from bench.workflow.cachekeys import SETUP_PYTHON_DEPENDENCY_FILES, setup_python_keys
from bench.workflow.interpreters import choose_interpreter

_DEFAULT_DEPENDENCY_FILES = SETUP_PYTHON_DEPENDENCY_FILES


def setup_python(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    architecture = inputs.get("architecture", "x64").strip() or "x64"
    if architecture != "x64":
        raise ActionError(f"setup-python architecture {architecture!r}: this machine is x64")
    choice = choose_interpreter(_python_spec(inputs, ctx))
    interpreter = choice.interpreter
    notes = [choice.note] if choice.note else []
    notes += [f"Notice: {choice.stood_in}"] if choice.stood_in else []
    location = ctx.sandbox.tool_cache / "Python" / interpreter.version / "x64"
    install_python(interpreter, location, ctx.python_templates, ctx.env)
    result = ActionResult(
        ok=True,
        outputs={
            "python-version": interpreter.version,
            "python-path": str(location / "bin/python"),
        },
        log=[*notes, f"Successfully set up CPython ({interpreter.version})"],
        substitutions=[choice.stood_in] if choice.stood_in else [],
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
    _pip_steps(inputs, ctx, location, result)
    if flag(inputs, "check-latest"):
        result.log.append("check-latest: the newest interpreter on this machine is used")
    return result


def _pip_steps(
    inputs: dict[str, str], ctx: ActionContext, location: Path, result: ActionResult
) -> None:
    """``pip-version`` then ``pip-install``: pip runs from the set-up Python (from the mirror)."""
    commands = []
    pip_version = inputs.get("pip-version", "").strip()
    if pip_version:
        commands.append(["install", "--upgrade", f"pip=={pip_version}"])
    packages = inputs.get("pip-install", "").split()
    if packages:
        commands.append(["install", *packages])
    env = ctx.env | result.env | {"PATH": ":".join([*result.path, ctx.env["PATH"]])}
    for arguments in commands:
        done = subprocess.run(
            [str(location / "bin/python"), "-m", "pip", *arguments],
            env=env,
            cwd=ctx.sandbox.workspace,
            capture_output=True,
            text=True,
        )
        result.log.append(f"pip {' '.join(arguments)}")
        if done.returncode != 0:
            result.ok = False
            result.log += [*done.stderr.strip().splitlines()[-5:], "pip failed"]
            return


def _python_spec(inputs: dict[str, str], ctx: ActionContext) -> str:
    return python_spec(inputs, ctx.sandbox.workspace)


def python_spec(inputs: dict[str, str], workspace: Path) -> str:
    """``python-version`` (its last line when several), else ``python-version-file``
    (``.python-version``, or ``pyproject.toml``'s ``requires-python``), else ``.python-version``;
    files are read in ``workspace``."""
    lines = parse_multiline(inputs.get("python-version", ""))
    if lines:
        return lines[-1]  # several versions: the last one is the default python
    version_file = inputs.get("python-version-file", "").strip()
    path = workspace / (version_file or ".python-version")
    if not path.is_file():
        raise ActionError(
            "setup-python: give python-version "
            f"(no {version_file or '.python-version'} in the repo)"
        )
    if path.name == "pyproject.toml":
        project = tomllib.loads(path.read_text())
        spec = project.get("project", {}).get("requires-python") or project.get("tool", {}).get(
            "poetry", {}
        ).get("dependencies", {}).get("python")
        if not spec:
            raise ActionError(f"setup-python: {version_file} names no requires-python")
        return str(spec).replace(" ", "").replace("^", ">=")
    words = [w for w in path.read_text().split() if not w.startswith("#")]
    if not words:
        raise ActionError(f"setup-python: {path.name} is empty")
    return words[0]


def install_python(
    interpreter: Interpreter, location: Path, templates: Path | None, env: dict[str, str]
) -> None:
    """``interpreter`` in the runner's tool cache at ``location``, from a ready template.

    A hosted runner's tool cache holds a real CPython installation, not a virtual environment,
    and tools tell the two apart: uv skips a venv's interpreter on PATH when it looks for one to
    build an environment from (it would take the system's ``/usr/bin/python3`` instead). So an
    interpreter installed in a folder of its own (pyenv's, say) is copied as an installation:
    everything but its test suite and third-party packages, scripts pointed at the copy, pip
    from ``ensurepip``. The system's interpreter (under ``/usr``) cannot be copied alone and
    still becomes a venv. The template is made once per run at the path the trials use (so its
    scripts stay valid) and each trial gets hard links to it: Python and pip replace files,
    they do not write into them, so no trial changes the template. ``env`` is the runner's: pip
    runs with nothing of the host's PATH or home. A failure is an ``ActionError`` (the trial
    fails), never an exception that stops the run.
    """
    if (location / "bin").is_dir():  # set up by an earlier step of the job
        return
    template = templates / interpreter.version if templates is not None else None
    if template is None:
        _make_python(interpreter, location, env)
        return
    if not template.is_dir():
        _make_python(interpreter, location, env)
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(template.name + ".partial")  # an interrupted copy is
        shutil.rmtree(partial, ignore_errors=True)  # never taken for a template
        _run_quietly(["cp", "-a", str(location), str(partial)], env)
        os.replace(partial, template)
        return
    location.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run_quietly(["cp", "-al", str(template), str(location)], env)
    except ActionError:  # another file system: a plain copy
        shutil.rmtree(location, ignore_errors=True)
        _run_quietly(["cp", "-a", str(template), str(location)], env)


def _make_python(interpreter: Interpreter, location: Path, env: dict[str, str]) -> None:
    root = installation_root(interpreter)
    if root is None:
        _run_quietly([interpreter.path, "-m", "venv", str(location)], env)
        return
    stdlib = root / "lib" / f"python{_minor(interpreter.version)}"

    def leave_out(folder: str, names: list[str]) -> set[str]:
        if Path(folder) == stdlib:
            return {"site-packages", "test"} & set(names)
        if Path(folder) == root / "bin":  # not the host's console scripts (pytest, nox, ...)
            return {n for n in names if not n.startswith(TOOL_CACHE_SCRIPTS)}
        return set()

    try:
        shutil.copytree(root, location, symlinks=True, ignore=leave_out)
    except (OSError, shutil.Error) as error:
        raise ActionError(f"setup-python: cannot copy {root}: {error}") from None
    (location / stdlib.relative_to(root) / "site-packages").mkdir(exist_ok=True)
    _point_scripts_at(location / "bin", root, location)
    python = location / "bin" / f"python{_minor(interpreter.version)}"
    _run_quietly([str(python), "-m", "ensurepip", "--default-pip"], env)


# What a hosted runner's tool cache Python has in bin/ (pip's scripts come from ensurepip).
TOOL_CACHE_SCRIPTS = ("python", "idle", "pydoc", "2to3")


def installation_root(interpreter: Interpreter) -> Path | None:
    """The folder ``interpreter`` is installed in by itself (``<root>/bin``, ``<root>/lib``),
    or None for one that shares its prefix with the rest of the system."""
    root = Path(interpreter.path).resolve().parent.parent
    if root in (Path("/"), Path("/usr"), Path("/usr/local")):
        return None
    landmark = root / "lib" / f"python{_minor(interpreter.version)}" / "os.py"
    return root if landmark.is_file() else None


def _point_scripts_at(bin_dir: Path, old_root: Path, new_root: Path) -> None:
    """Scripts whose ``#!`` names the original installation run the copy instead."""
    old = f"#!{old_root}/".encode()
    for script in bin_dir.iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as handle:
            if handle.read(len(old)) != old:
                continue
        data = script.read_bytes()
        script.write_bytes(f"#!{new_root}/".encode() + data[len(old) :])


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


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
    primary_key, restore_keys = keys.primary, list(keys.restore)
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
    result.cache = restore_record(primary_key, paths, restored, hit)
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
        return save_cache(post_ctx, paths, primary_key, restored_key=matched)

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

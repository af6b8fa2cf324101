"""pdm-project/setup-pdm: a Python as setup-python sets it up, PDM from the mirror, its cache.

The Python is the first ``python-version``, else ``python-version-file``, else ``pyproject.toml``'s
``requires-python``, else ``3.x``, set up by the setup-python emulation (so a newer CPython is
stood in for the same way). PDM's installer script comes from the network; here PDM is
installed the way it installs it, into its own venv ``~/.local/share/pdm/venv`` (from the
mirror), with ``~/.local/bin/pdm`` on ``PATH``. ``LD_PRELOAD`` is exported as the action does on
x64 Linux; ``enable-pep582`` exports ``PYTHONPATH``. ``cache: true`` restores
``setup-pdm-<os>-<arch>-python-<version>-<hashFiles(cache-dependency-path)>`` (``pdm.lock`` by
default; the prefix as restore key unless ``cache-restore-exact-match``) into ``.venv``,
``__pypackages__``, ``pdm config cache_dir`` and ``pdm config venv.location``, and saves it
after success unless the key hit; ``cache-hit`` is true on an exact hit.
"""

from __future__ import annotations

import subprocess
import time
import tomllib
from pathlib import Path

from bench.ghcache import action as cache_action
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.ghcache.keys import parse_multiline
from bench.workflow.actions import (
    ActionContext,
    ActionError,
    ActionResult,
    PostStep,
    flag,
    restore_record,
    save_cache,
)
from bench.workflow.setup_python import setup_python

LD_PRELOAD = "/lib/x86_64-linux-gnu/libgcc_s.so.1"


def setup_pdm(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    python_inputs = {
        "update-environment": inputs.get("update-python", "true") or "true",
        "allow-prereleases": inputs.get("allow-python-prereleases", "false"),
    }
    if inputs.get("architecture", "").strip():
        python_inputs["architecture"] = inputs["architecture"]
    python_inputs |= _python_request(inputs, ctx)
    result = setup_python(python_inputs, ctx)
    python_version = result.outputs["python-version"]
    result.env["LD_PRELOAD"] = LD_PRELOAD
    env = ctx.env | result.env | {"PATH": ":".join([*result.path, ctx.env["PATH"]])}
    venv = ctx.sandbox.home / ".local/share/pdm/venv"
    local_bin = ctx.sandbox.home / ".local/bin"
    requirement = "pdm"
    if inputs.get("version", "").strip() and inputs["version"].strip() != "head":
        requirement = f"pdm=={inputs['version'].strip()}"
    pre = ["--pre"] if flag(inputs, "prerelease") else []
    _run(["python3", "-m", "venv", str(venv)], env, ctx)
    _run([str(venv / "bin/python"), "-m", "pip", "install", *pre, requirement], env, ctx)
    local_bin.mkdir(parents=True, exist_ok=True)
    (local_bin / "pdm").unlink(missing_ok=True)
    (local_bin / "pdm").symlink_to(venv / "bin/pdm")
    pdm = str(local_bin / "pdm")
    version = pdm_version(_run([pdm, "--version"], env, ctx))
    result.path.append(str(local_bin))
    result.outputs |= {"pdm-version": version, "pdm-bin": pdm}
    result.log.append(f"Successfully setup PDM {version} with Python {python_version}")
    if flag(inputs, "enable-pep582"):
        minor = ".".join(python_version.split(".")[:2])
        result.env["PYTHONPATH"] = str(venv / f"lib/python{minor}/site-packages/pdm/pep582")
    if flag(inputs, "cache"):
        env = ctx.env | result.env | {"PATH": ":".join([*result.path, ctx.env["PATH"]])}
        _restore(inputs, python_version, pdm, env, ctx, result)
    return result


def _python_request(inputs: dict[str, str], ctx: ActionContext) -> dict[str, str]:
    lines = parse_multiline(inputs.get("python-version", ""))
    if lines:
        return {"python-version": lines[0]}  # the action takes the first
    if inputs.get("python-version-file", "").strip():
        return {"python-version-file": inputs["python-version-file"].strip()}
    pyproject = ctx.sandbox.workspace / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    if project.get("requires-python"):
        return {"python-version-file": "pyproject.toml"}
    return {"python-version": "3.x"}


def _restore(
    inputs: dict[str, str],
    python_version: str,
    pdm: str,
    env: dict[str, str],
    ctx: ActionContext,
    result: ActionResult,
) -> None:
    started = time.perf_counter_ns()
    patterns = parse_multiline(inputs.get("cache-dependency-path", "")) or ["pdm.lock"]
    try:
        digest = hash_files(patterns, workspace=ctx.sandbox.workspace, home=ctx.sandbox.home)
    except HashFilesError as error:
        raise ActionError(f"setup-pdm: {error}") from None
    if not digest:
        raise ActionError(
            f"setup-pdm: No file in {ctx.sandbox.workspace} matched to [{','.join(patterns)}], "
            "make sure you have checked out the target repository"
        )
    prefix = f"setup-pdm-{env.get('RUNNER_OS', 'Linux')}-{env.get('RUNNER_ARCH', 'X64')}"
    prefix += f"-python-{python_version}-"
    key = prefix + digest
    workspace = ctx.sandbox.workspace
    paths = [str(workspace / ".venv"), str(workspace / "__pypackages__")]
    for name in ("cache_dir", "venv.location"):
        paths.append(_run([pdm, "config", name], env, ctx).strip())
    exact = flag(inputs, "cache-restore-exact-match")
    restored = cache_action.restore(
        ctx.store,
        ctx.cache_runner(),
        paths=paths,
        primary_key=key,
        restore_keys=[] if exact else [prefix],
        scopes=ctx.scopes,
        transfer=ctx.transfer,
    )
    matched = restored.matched_key
    result.log += restored.log if matched else [*restored.log, "pdm cache is not found"]
    result.outputs["cache-hit"] = "true" if matched == key else "false"
    result.restore_ns = time.perf_counter_ns() - started
    result.cache = restore_record(key, paths, restored, result.outputs["cache-hit"])

    def save_later(post_ctx: ActionContext) -> ActionResult:
        if not any(Path(path).exists() for path in paths):
            message = "Cache folder path is retrieved for pdm but doesn't exist on disk: "
            return ActionResult(ok=False, log=[message + ", ".join(paths)])
        if matched == key:
            return ActionResult(
                ok=True, log=[f"Cache hit occurred on the primary key {key}, not saving cache."]
            )
        return save_cache(post_ctx, paths, key, restored_key=matched or None)

    result.post = PostStep("Post Set up PDM", "success()", "save", save_later)


def pdm_version(output: str) -> str:
    """The last word of ``pdm --version`` (``PDM, version 2.26.1``)."""
    words = output.split()
    if not words:
        raise ActionError("setup-pdm: pdm --version printed nothing: the installed pdm is broken")
    return words[-1]


def _run(command: list[str], env: dict[str, str], ctx: ActionContext) -> str:
    done = subprocess.run(
        command, env=env, cwd=ctx.sandbox.workspace, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ActionError(f"setup-pdm: {' '.join(command[:4])}: {tail}")
    return done.stdout

"""setup-python's interpreter in the fake runner's tool cache is an installation, as on a hosted
runner, not a venv: uv (which skips a venv's interpreter on PATH when it builds an environment)
must find it, and nothing a trial does may reach the machine's own installation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.intake.resolve import uv_binary
from bench.runner.pythons import installed_interpreters
from bench.workflow.setup_python import install_python, installation_root
from tests.packages import build_set

pytestmark = pytest.mark.slow

OWN_FOLDER = [i for i in installed_interpreters() if installation_root(i) is not None]


def _run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


@pytest.mark.skipif(not OWN_FOLDER, reason="no interpreter installed in a folder of its own here")
def test_the_tool_cache_holds_an_installation_that_uv_takes(tmp_path):
    interpreter = OWN_FOLDER[-1]
    original = installation_root(interpreter)
    minor = ".".join(interpreter.version.split(".")[:2])
    site = Path("lib") / f"python{minor}" / "site-packages"
    before = sorted(os.listdir(original / site))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PIP_CONFIG_FILE": os.devnull}
    templates = tmp_path / "templates"
    location = tmp_path / "toolcache" / "Python" / interpreter.version / "x64"
    install_python(interpreter, location, templates, env)  # the first trial makes the template
    shutil.rmtree(location)
    install_python(interpreter, location, templates, env)  # the next ones link to it

    python = location / "bin" / "python3"
    names = os.listdir(location / "bin")  # none of the host's console scripts (pytest, nox…)
    assert all(n.startswith(("python", "idle", "pydoc", "2to3", "pip")) for n in names), names
    prefixes = _run([str(python), "-c", "import sys; print(sys.prefix, sys.base_prefix)"], env)
    assert prefixes.split() == [str(location), str(location)]  # an installation, not a venv
    assert str(location) in _run([str(location / "bin" / "pip3"), "--version"], env)
    project = tmp_path / "project"
    project.mkdir()
    on_path = env | {"PATH": f"{location / 'bin'}:/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never"}
    made = _run([uv_binary(), "venv", "--no-config", ".venv"], on_path, cwd=project)
    assert f"interpreter at: {location / 'bin'}/python" in made  # not /usr/bin/python3

    wheels = tmp_path / "wheels"
    build_set(wheels)
    wheel = next(wheels.glob("tinyone-*.whl"))
    _run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q", str(wheel)], env)
    assert any(n.startswith("tinyone") for n in os.listdir(location / site))
    assert not any(
        n.startswith("tinyone") for n in os.listdir(templates / interpreter.version / site)
    )
    assert sorted(os.listdir(original / site)) == before  # the machine's installation untouched


@pytest.mark.skipif(not OWN_FOLDER, reason="no interpreter installed in a folder of its own here")
def test_setup_uv_gives_uv_the_python_it_would_download(tmp_path):
    """``.python-version`` asks for a Python not on PATH: on GitHub uv downloads it; here the
    machine's is put where uv keeps the ones it downloads, and uv takes it."""
    from bench.depsets import Revision
    from bench.ghcache.store import CacheStore
    from bench.runner.sandbox import create_sandbox, runner_environment
    from bench.workflow.actions import ActionContext, ActionResult
    from bench.workflow.setup_uv import _managed_python

    interpreter = OWN_FOLDER[-1]
    sandbox = create_sandbox(tmp_path / "runner", repo="demo")
    (sandbox.workspace / ".python-version").write_text(f"{interpreter.version}\n")
    env = runner_environment(sandbox, None)
    ctx = ActionContext(
        sandbox, env, CacheStore(tmp_path / "store"), Revision((sandbox.workspace,), ()),
        python_templates=tmp_path / "templates",
    )  # fmt: skip
    managed = sandbox.temp / "uv-python-dir"
    result = ActionResult(ok=True)
    _managed_python(interpreter.version, managed, ctx, result)
    found = _run(
        [uv_binary(), "python", "find", "--no-config"],
        env | {"UV_PYTHON_INSTALL_DIR": str(managed), "UV_PYTHON_DOWNLOADS": "never"},
        cwd=sandbox.workspace,
    ).strip()
    assert found.startswith(str(managed / f"cpython-{interpreter.version}-linux-x86_64-gnu"))

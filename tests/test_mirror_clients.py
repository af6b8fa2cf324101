"""pip, uv, poetry and pipenv install from the mirror, in a scrubbed home, offline.

Each tool runs with nothing of the host's configuration (see bench.mirror.clients), against a
mirror of packages the tests built; a counters session around a command makes the server's
counters say exactly what that command downloaded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.mirror.clients import (
    mirror_environment,
    pipfile_source,
    poetry_source,
    scrubbed_environment,
)
from bench.mirror.server import MirrorServer

TOOLS_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(TOOLS_BIN)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (nox -s tests installs it)")
    return found


@pytest.fixture(scope="module")
def mirror(tiny_mirror):
    return tiny_mirror


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def environment(tmp_path: Path, mirror: MirrorServer, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = scrubbed_environment(home)
    env.update(mirror_environment(mirror.index_url()))
    env.update(extra)
    env["PATH"] = f"{TOOLS_BIN}:/usr/bin:/bin"
    return env


def pip_install(env, cwd: Path, target: Path, *packages: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--target", str(target), *packages]
    run(command, env, cwd)


@pytest.mark.slow  # runs the real tool (seconds)
def test_pip_installs_wheels_dependencies_and_an_sdist(tmp_path, mirror) -> None:
    env = environment(tmp_path, mirror)
    target = tmp_path / "site"
    pip_install(env, tmp_path, target, "tinytwo", "tinysrc")
    assert (target / "tinyone" / "__init__.py").is_file()  # the dependency came too
    assert (target / "tinytwo" / "__init__.py").is_file()
    assert (target / "tinysrc" / "__init__.py").is_file()  # built from the sdist


@pytest.mark.slow  # runs the real tool (seconds)
def test_pip_cache_is_reused_and_pages_are_not_downloaded_again(tmp_path, mirror) -> None:
    """pip before 25 revalidates a cached page (a 304 from the mirror); later pips use it
    while its max-age lasts. Either way no page and no file is downloaded a second time."""
    cache = tmp_path / "pip-cache"
    env = environment(tmp_path, mirror, PIP_CACHE_DIR=str(cache))
    with mirror.session("pip-first"):
        pip_install(env, tmp_path, tmp_path / "one", "tinytwo")
    assert mirror.stats("pip-first").files_served == 2

    with mirror.session("pip-second"):
        pip_install(env, tmp_path, tmp_path / "two", "tinytwo")
    stats = mirror.stats("pip-second")
    assert stats.files_served == 0  # every wheel came from pip's cache
    assert stats.pages_served == 0  # pages: revalidated (304) or fresh in pip's cache
    assert (tmp_path / "two" / "tinyone").is_dir()


@pytest.mark.slow  # runs the real tool (seconds)
def test_pip_caches_nothing_from_an_untrusted_plain_http_host(tmp_path, mirror) -> None:
    """The fact behind PIP_TRUSTED_HOST: without it pip downloads everything again."""
    cache = tmp_path / "pip-cache"
    env = environment(tmp_path, mirror, PIP_CACHE_DIR=str(cache))
    del env["PIP_TRUSTED_HOST"]
    for session in ("untrusted-1", "untrusted-2"):
        with mirror.session(session):
            pip_install(env, tmp_path, tmp_path / session, "tinytwo")
    assert mirror.stats("untrusted-2").files_served == 2


def test_uv_installs_and_reuses_its_cache(tmp_path, mirror) -> None:
    uv = tool("uv")
    cache = tmp_path / "uv-cache"
    env = environment(tmp_path, mirror, UV_CACHE_DIR=str(cache))
    for session in ("uv-first", "uv-second"):
        target = tmp_path / session
        run([uv, "venv", "--python", sys.executable, str(target)], env, tmp_path)
        with mirror.session(session):
            run([uv, "pip", "install", "--python", str(target / "bin" / "python"),
                 "tinytwo", "tinysrc"], env, tmp_path)  # fmt: skip
        probe = "import tinyone, tinytwo, tinysrc; print(tinysrc.hello())"
        out = run([str(target / "bin" / "python"), "-c", probe], env, tmp_path)
        assert out.stdout.strip() == "hello from tinysrc"
    assert mirror.stats("uv-first").files_served >= 2
    assert mirror.stats("uv-second").files_served == 0


@pytest.mark.slow  # runs the real tool (seconds)
def test_poetry_locks_and_installs_from_a_legacy_source(tmp_path, mirror) -> None:
    poetry = tool("poetry")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "demo"\nversion = "0.1.0"\ndescription = ""\nauthors = []\n'
        "package-mode = false\n\n"
        '[tool.poetry.dependencies]\npython = ">=3.11"\ntinytwo = "2.0"\ntinysrc = "0.5"\n\n'
        + poetry_source(mirror.index_url())
    )
    env = environment(
        tmp_path, mirror, POETRY_VIRTUALENVS_IN_PROJECT="true", POETRY_NO_INTERACTION="1"
    )
    with mirror.session("poetry"):
        run([poetry, "lock"], env, project)
        assert 'name = "tinyone"' in (project / "poetry.lock").read_text()
        run([poetry, "install"], env, project)
    python = project / ".venv" / "bin" / "python"
    out = run([str(python), "-c", "import tinyone, tinytwo, tinysrc; print('ok')"], env, project)
    assert out.stdout.strip() == "ok"
    assert mirror.stats("poetry").files_served >= 3


@pytest.mark.slow  # runs the real tool (seconds)
def test_pipenv_locks_and_installs_from_the_mirror(tmp_path, mirror) -> None:
    pipenv = tool("pipenv")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pipfile").write_text(
        pipfile_source(mirror.index_url()) + '\n[packages]\ntinytwo = "==2.0"\ntinysrc = "==0.5"\n'
    )
    env = environment(tmp_path, mirror, PIPENV_VENV_IN_PROJECT="1")
    with mirror.session("pipenv"):
        run([pipenv, "install", "--python", sys.executable], env, project)
    assert '"tinyone"' in (project / "Pipfile.lock").read_text()
    python = project / ".venv" / "bin" / "python"
    out = run([str(python), "-c", "import tinyone, tinytwo, tinysrc; print('ok')"], env, project)
    assert out.stdout.strip() == "ok"
    assert (tmp_path / "home" / ".cache" / "pipenv").is_dir()  # it caches in the fake home


def test_scrubbed_environment_drops_host_configuration(tmp_path) -> None:
    env = scrubbed_environment(
        tmp_path, {"PIP_FIND_LINKS": "/opt/wheels", "UV_CACHE_DIR": "/x", "PATH": "/bin",
                   "XDG_CACHE_HOME": "/root/.cache", "HOME": "/root"},
    )  # fmt: skip
    assert env["PIP_CONFIG_FILE"] == "/dev/null"
    assert "PIP_FIND_LINKS" not in env and "UV_CACHE_DIR" not in env
    assert env["HOME"] == str(tmp_path)
    assert env["XDG_CACHE_HOME"] == str(tmp_path / ".cache")
    assert env["PATH"] == "/bin"

"""Filling a wheelhouse from pinned requirements, against an upstream mirror on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.mirror.distfiles import sha256_of
from bench.mirror.fetch import fetch, read_pins
from bench.mirror.server import MirrorServer

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def upstream(tiny_mirror):
    return tiny_mirror


def pin(upstream: MirrorServer, filename: str, requirement: str) -> str:
    digest = sha256_of(upstream.wheelhouse / filename)
    return f"{requirement} \\\n    --hash=sha256:{digest}\n"


def requirements(tmp_path: Path, upstream: MirrorServer, extra: str = "") -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# pinned, transitive dependencies included\n"
        + pin(upstream, "tinyone-1.0-py3-none-any.whl", "tinyone==1.0")
        + pin(upstream, "tinytwo-2.0-py3-none-any.whl", "tinytwo==2.0")
        + pin(upstream, "tinysrc-0.5.tar.gz", "tinysrc==0.5")
        + extra
    )
    return path


def test_fetch_fills_the_wheelhouse_once(tmp_path, upstream) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    with upstream.session("first"):
        result = fetch(
            [requirements(tmp_path, upstream)], wheelhouse, index_url=upstream.index_url()
        )
    assert sorted(result.fetched) == [
        "tinyone-1.0-py3-none-any.whl", "tinysrc-0.5.tar.gz", "tinytwo-2.0-py3-none-any.whl",
    ]  # fmt: skip
    for name in result.fetched:
        assert sha256_of(wheelhouse / name) == sha256_of(upstream.wheelhouse / name)
    with upstream.session("second"):
        again = fetch(
            [requirements(tmp_path, upstream)], wheelhouse, index_url=upstream.index_url()
        )
    assert (again.fetched, again.already_there) == ([], 3)
    assert upstream.stats("second").requests == 0  # nothing asked of the network
    assert not [p for p in wheelhouse.iterdir() if p.name.startswith(".partial")]


def test_missing_requirement_is_a_one_line_error_and_nothing_lands(tmp_path, upstream) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    extra = "nothere==1.0 --hash=sha256:" + "0" * 64 + "\n"
    with pytest.raises(BenchError) as error:
        fetch([requirements(tmp_path, upstream, extra)], wheelhouse, index_url=upstream.index_url())
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("cannot find nothere==1.0 on the index")
    leftovers = [p.name for p in wheelhouse.iterdir() if not p.name.startswith(".index-cache")]
    assert leftovers == []


def test_hash_mismatch_is_a_one_line_error(tmp_path, upstream) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("tinyone==1.0 --hash=sha256:" + "1" * 64 + "\n")
    with pytest.raises(BenchError, match="does not match its pinned hash; fix the pin"):
        fetch([path], tmp_path / "wheelhouse", index_url=upstream.index_url())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tinyone>=1.0 --hash=sha256:" + "0" * 64, "is not pinned; write NAME==VERSION"),
        ("tinyone==1.0", "has no --hash=sha256:...; pin its hashes"),
        ("tiny one==1", "requirements.txt:1:"),
    ],
)
def test_requirement_file_must_be_pinned_with_hashes(tmp_path, line, message) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(line + "\n")
    with pytest.raises(BenchError, match=message.replace(".", r"\.").replace("[", r"\[")):
        read_pins(path)


def test_option_lines_are_kept(tmp_path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("--no-binary tinysrc\ntinysrc==0.5 --hash=sha256:" + "a" * 64 + "\n")
    pins, options = read_pins(path)
    assert options == ["--no-binary tinysrc"]
    assert [(p.project, p.hashes) for p in pins] == [("tinysrc", {"a" * 64})]


def test_cli_fetch_and_serve_errors(tmp_path, upstream) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}

    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bench", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    fetched = bench(
        "mirror", "fetch", "-r", str(requirements(tmp_path, upstream)),
        "--wheelhouse", str(tmp_path / "wh"), "--index-url", upstream.index_url(),
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    assert "3 file(s) fetched" in fetched.stdout

    missing = bench("mirror", "serve", "--wheelhouse", str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr

    busy = bench(
        "mirror", "serve", "--wheelhouse", str(tmp_path / "wh"), "--port", str(upstream.port)
    )
    assert busy.returncode == 2
    assert busy.stderr.strip() == (
        f"error: port {upstream.port} on 127.0.0.1 is already in use; pick another with --port, "
        "or 0 for a free one"
    )

    profile = bench("mirror", "serve", "--wheelhouse", str(tmp_path / "wh"), "--profile", "moon")
    assert profile.returncode == 2 and "unknown network profile 'moon'" in profile.stderr


def test_a_wheel_built_for_another_python_does_not_count_as_there():
    from packaging.tags import Tag

    from bench.mirror.fetch import _usable_tags

    cp311 = Tag("cp311", "cp311", "manylinux_2_17_x86_64")
    pure = Tag("py3", "none", "any")
    assert pure in _usable_tags("3.9") and pure in _usable_tags("3.12")
    assert cp311 not in _usable_tags("3.9")
    assert Tag("cp39", "cp39", "manylinux_2_17_x86_64") in _usable_tags("3.9")


def test_under_no_binary_a_wheel_of_the_pin_does_not_count_and_the_sdist_is_fetched(tmp_path):
    """Another set's wheel of the same pin (markupsafe for the web set) must not stand in for
    the sdist a ``--no-binary`` set builds: pip would find no file it may use."""
    import shutil

    from tests.packages import build_sdist, build_wheel

    upstream_folder = tmp_path / "upstream"
    upstream_folder.mkdir()
    wheel = build_wheel(upstream_folder, "tinyboth", "1.0")
    sdist = build_sdist(upstream_folder, "tinyboth", "1.0")
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    shutil.copy2(wheel, wheelhouse / wheel.name)  # what the other set brought
    hashes = f"--hash=sha256:{sha256_of(wheel)} --hash=sha256:{sha256_of(sdist)}"
    plain = tmp_path / "plain.txt"
    plain.write_text(f"tinyboth==1.0 {hashes}\n")
    sources = tmp_path / "sources.txt"
    sources.write_text(f"--no-binary tinyboth\ntinyboth==1.0 {hashes}\n")
    with MirrorServer(upstream_folder) as server:
        assert fetch([plain], wheelhouse, index_url=server.index_url()).fetched == []
        result = fetch([sources], wheelhouse, index_url=server.index_url())
        assert result.fetched == [sdist.name]
        assert fetch([sources], wheelhouse, index_url=server.index_url()).fetched == []

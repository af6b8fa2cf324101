"""The command line as users and scripts drive it: subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write

PROJECT = Path(__file__).resolve().parents[1]


def bench(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env
    )


def test_hash_files_prints_the_hash(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "hello\n")
    result = bench("hash-files", "--workspace", str(tmp_path), "requirements.txt")
    assert result.returncode == 0
    assert result.stdout == "ecb65bb98f9d905b70458986c39fcbad7715e5f2fcc3b1f07767d7c83e2438cc\n"


def test_hash_files_prints_an_empty_line_on_no_match(tmp_path: Path) -> None:
    result = bench("hash-files", "--workspace", str(tmp_path), "nothing")
    assert (result.returncode, result.stdout) == (0, "\n")


def test_hash_files_invalid_pattern_is_bad_input_with_the_runners_message(tmp_path: Path) -> None:
    result = bench("hash-files", "--workspace", str(tmp_path), "../secrets")
    assert result.returncode == 2  # the exit-code policy: bad input is 2, "error: " and one line
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: hashFiles('../secrets') failed. Fail to hash files under directory "
        f"'{tmp_path.resolve()}': Invalid pattern '../secrets'. Relative pathing '.' and '..' "
        "is not allowed."
    ]


def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    home = tmp_path / "home" / "runner"
    workspace = home / "work" / "r" / "r"
    workspace.mkdir(parents=True)
    write(home / ".cache" / "pip" / "f", "cached")
    return home, workspace, tmp_path / "store"


def test_save_restore_list_round_trip(tmp_path: Path) -> None:
    home, workspace, store = layout(tmp_path)
    common = ["--store", str(store), "--workspace", str(workspace), "--path", "~/.cache/pip"]
    saved = bench("cache", "save", *common, "--key", "Linux-pip-1", home=home)
    assert saved.returncode == 0, saved.stderr
    assert "Cache saved with key: Linux-pip-1" in saved.stdout

    again = bench("cache", "save", *common, "--key", "Linux-pip-1", home=home)
    assert again.returncode == 0
    assert "Unable to reserve cache with key Linux-pip-1" in again.stdout

    (home / ".cache" / "pip" / "f").unlink()
    restored = bench(
        "cache", "restore", *common, "--key", "Linux-pip-2", "--restore-key", "Linux-pip-",
        home=home,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.splitlines()[-3:] == [
        "cache-hit=false",
        "cache-primary-key=Linux-pip-2",
        "cache-matched-key=Linux-pip-1",
    ]
    assert (home / ".cache" / "pip" / "f").read_text() == "cached"

    listed = bench("cache", "list", "--store", str(store), "--json")
    rows = json.loads(listed.stdout)
    assert [(r["scope"], r["key"]) for r in rows] == [("refs/heads/main", "Linux-pip-1")]
    assert rows[0]["size"] > 0 and rows[0]["version"] and rows[0]["last_accessed"]
    table = bench("cache", "list", "--store", str(store))
    assert "Linux-pip-1" in table.stdout and "last_accessed" in table.stdout


def test_restore_miss_and_fail_on_cache_miss(tmp_path: Path) -> None:
    home, workspace, store = layout(tmp_path)
    common = ["--store", str(store), "--workspace", str(workspace), "--path", "~/.cache/pip"]
    miss = bench("cache", "restore", *common, "--key", "none", home=home)
    assert miss.returncode == 0
    assert miss.stdout.splitlines()[-3:] == [
        "cache-hit=",
        "cache-primary-key=none",
        "cache-matched-key=",
    ]
    failing = bench("cache", "restore", *common, "--key", "none", "--fail-on-cache-miss", home=home)
    assert failing.returncode == 1
    assert "Exiting as fail-on-cache-miss is set" in failing.stderr


def test_restore_with_a_bad_key_fails_the_step(tmp_path: Path) -> None:
    home, workspace, store = layout(tmp_path)
    common = ["--store", str(store), "--workspace", str(workspace), "--path", "~/.cache/pip"]
    result = bench("cache", "restore", *common, "--key", "a,b", home=home)
    assert result.returncode == 1
    assert "Error: Key Validation Error: a,b cannot contain commas." in result.stderr


def test_save_of_a_missing_path_exits_0_and_says_why(tmp_path: Path) -> None:
    home, workspace, store = layout(tmp_path)
    result = bench(
        "cache", "save", "--store", str(store), "--workspace", str(workspace),
        "--path", "~/absent", "--key", "k", home=home,
    )  # fmt: skip
    assert result.returncode == 0
    assert "Path Validation Error" in result.stdout


def test_missing_workspace_is_a_one_line_error(tmp_path: Path) -> None:
    result = bench(
        "cache", "save", "--store", str(tmp_path / "s"), "--workspace", str(tmp_path / "nope"),
        "--path", "x", "--key", "k",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: the workspace {tmp_path / 'nope'} is not a folder; pass an existing one"
    )


def test_list_of_a_folder_that_is_no_store_is_a_one_line_error(tmp_path: Path) -> None:
    result = bench("cache", "list", "--store", str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is not a cache store" in result.stderr


def test_bad_limit_is_refused_by_the_parser(tmp_path: Path) -> None:
    result = bench(
        "cache", "save", "--store", str(tmp_path), "--workspace", str(tmp_path), "--path", "x",
        "--key", "k", "--limit-bytes", "0",
    )  # fmt: skip
    assert result.returncode == 2
    assert "expected a positive number" in result.stderr


def _arguments(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _arguments(sub, (*prefix, name))
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(prefix), action


def test_every_argument_of_every_subcommand_has_help() -> None:
    from bench.cli import build_parser

    arguments = list(_arguments(build_parser()))
    assert len(arguments) >= 53
    missing = [f"{where} {a.option_strings or a.dest}" for where, a in arguments if not a.help]
    assert missing == []


def test_mirror_shaping_exits_1_when_a_figure_misses_its_target(monkeypatch, capsys) -> None:
    from bench import cli
    from bench.mirror import accuracy

    def measure(profile, megabytes):
        return [accuracy.Check("bandwidth", 10.0, 8.0, "MB/s", within=profile.name != "slow")]

    monkeypatch.setattr(accuracy, "measure", measure)
    assert cli.main(["mirror", "shaping", "--profile", "github-hosted"]) == 0
    assert cli.main(["mirror", "shaping", "--profile", "github-hosted", "--profile", "slow"]) == 1
    assert "1 figure(s) outside tolerance" in capsys.readouterr().out


@pytest.mark.parametrize(("seconds", "status"), [(3.0, 0), (10.5, 1)])
def test_report_speed_exits_1_over_its_target(monkeypatch, capsys, seconds, status) -> None:
    from bench import cli
    from bench.report import speed

    monkeypatch.setattr(speed, "measure", lambda trials: seconds)
    assert cli.main(["report-speed"]) == status
    assert ("OVER" in capsys.readouterr().out) == bool(status)


def test_a_relative_store_still_restores(tmp_path: Path) -> None:
    """tar runs inside the workspace: a relative --store used to make every restore a miss."""
    home, workspace, _store = layout(tmp_path)
    common = ["--store", "store", "--workspace", str(workspace), "--path", "~/.cache/pip"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "HOME": str(home)}

    def bench_here(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env,
            cwd=tmp_path,
        )  # fmt: skip

    assert bench_here("cache", "save", *common, "--key", "k-1").returncode == 0
    (home / ".cache" / "pip" / "f").unlink()
    restored = bench_here("cache", "restore", *common, "--key", "k-1")
    assert restored.returncode == 0, restored.stderr
    assert "cache-hit=true" in restored.stdout.splitlines()
    assert (home / ".cache" / "pip" / "f").read_text() == "cached"

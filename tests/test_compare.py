"""compare: the change per cell, its significance, and the exit status for CI."""

from __future__ import annotations

import pytest

from bench import cli
from tests.helpers import make_run, trials


def run_with(folder, pip_seconds):
    records = trials("cli", "no-cache", "cold", install=8.0, total=10.0, n=5)
    records += [
        r | {"total_ns": int(s * 1e9)}
        for r, s in zip(
            trials("cli", "pip-cache", "warm", install=1.0, n=5), pip_seconds, strict=True
        )
    ]
    return make_run(folder, records)


A = [10.0, 10.2, 9.9, 10.1, 10.0]
SLOWER = [13.0, 13.1, 12.9, 13.2, 13.0]
NOISY = [9.0, 12.0, 10.5, 8.5, 11.5]


def test_a_significant_slowdown_over_the_threshold_exits_1(tmp_path, capsys):
    a, b = run_with(tmp_path / "a", A), run_with(tmp_path / "b", SLOWER)
    assert cli.main(["compare", str(a), str(b), "--fail-above", "10%"]) == 1
    out = capsys.readouterr().out
    assert "+30.0%" in out and "slower: cli/pip-cache/warm +30.0% (over 10%)" in out


def test_under_the_threshold_or_not_significant_exits_0(tmp_path, capsys):
    a, b = run_with(tmp_path / "a", A), run_with(tmp_path / "b", SLOWER)
    assert cli.main(["compare", str(a), str(b), "--fail-above", "50%"]) == 0
    noisy = run_with(tmp_path / "noisy", NOISY)
    assert cli.main(["compare", str(a), str(noisy), "--fail-above", "1"]) == 0
    assert "| no " in capsys.readouterr().out.replace("  ", " ")


def test_without_a_threshold_it_only_reports(tmp_path):
    a, b = run_with(tmp_path / "a", A), run_with(tmp_path / "b", SLOWER)
    assert cli.main(["compare", str(a), str(b)]) == 0


@pytest.mark.parametrize("threshold", ["ten", "-5%"])
def test_a_bad_threshold_is_a_clear_error(tmp_path, threshold, capsys):
    a = run_with(tmp_path / "a", A)
    assert cli.main(["compare", str(a), str(a), f"--fail-above={threshold}"]) == 2
    assert capsys.readouterr().err.startswith("error: --fail-above")

"""compare: the change per cell, its significance, and the exit status for CI."""

from __future__ import annotations

import dataclasses

import pytest

from bench import cli
from tests.helpers import make_run, trials


def run_with(folder, pip_seconds):
    records = trials("cli", "no-cache", "cold", install=8.0, total=10.0, n=5)
    records += [
        dataclasses.replace(r, total_ns=int(s * 1e9))
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


def test_no_significance_from_fewer_than_three_trials_a_side(tmp_path, capsys):
    def single(folder, seconds):
        records = trials("cli", "pip-cache", "warm", install=1.0, total=seconds, n=1)
        return make_run(folder, records)

    a, b = single(tmp_path / "a", 8.0), single(tmp_path / "b", 11.0)  # +37.5 %
    assert cli.main(["compare", str(a), str(b), "--fail-above", "10%"]) == 0
    out = capsys.readouterr().out
    assert "+37.5%" in out and "not tested: fewer than 3 trials (n=1 and 1)" in out
    assert "1 cell(s) not tested for significance" in out and "slower:" not in out


def test_busy_trials_are_counted_beside_the_change(tmp_path, capsys):
    records = [
        dataclasses.replace(r, machine_busy=0.8)
        for r in trials("cli", "pip-cache", "warm", install=1.0, n=3)
    ]
    a = make_run(tmp_path / "a", records)
    assert cli.main(["compare", str(a), str(a)]) == 0
    out = capsys.readouterr().out
    assert "busy trials (> 30%)" in out and "A 3, B 3" in out


def test_one_phase_can_be_compared_with_its_spread(tmp_path, capsys):
    a, b = run_with(tmp_path / "a", A), run_with(tmp_path / "b", SLOWER)
    assert cli.main(["compare", str(a), str(b), "--phase", "install"]) == 0
    out = capsys.readouterr().out
    # install is the same (1 s warm, 8 s cold) in both runs: no change, and no spread
    assert "+0.0%" in out and "1.00 ±0.00 (n=5)" in out and "+30.0%" not in out
    assert cli.main(["compare", str(a), str(b), "--phase", "unpacking"]) == 2
    assert "unknown phase 'unpacking'" in capsys.readouterr().err

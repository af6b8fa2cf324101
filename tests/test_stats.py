"""Statistics against values worked out by hand on small fixed data."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bench.stats import cell_stats, speedup, stability_warnings, summarize
from tests.helpers import record


def test_summary_of_four_values():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.n, s.median, s.q1, s.q3, s.minimum, s.maximum) == (4, 2.5, 1.75, 3.25, 1.0, 4.0)
    assert s.iqr == 1.5
    assert s.mean == 2.5
    assert s.stdev == pytest.approx(math.sqrt(5 / 3))  # sample standard deviation


def test_summary_of_one_value_has_no_spread():
    s = summarize([7.0])
    assert (s.median, s.q1, s.q3, s.iqr) == (7.0, 7.0, 7.0, 0.0)
    assert math.isnan(s.stdev)


def test_summary_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        summarize([])


def test_speedup_is_the_ratio_of_medians_with_a_reproducible_interval():
    exact = speedup([10.0, 10.0, 10.0], [5.0, 5.0, 5.0])
    assert (exact.estimate, exact.low, exact.high) == (2.0, 2.0, 2.0)
    noisy_ref, noisy = [9.0, 10.0, 12.0, 11.0], [4.0, 6.0, 5.0, 5.5]
    first, again = speedup(noisy_ref, noisy, seed=3), speedup(noisy_ref, noisy, seed=3)
    assert first == again
    assert first.estimate == pytest.approx(10.5 / 5.25)
    assert first.low <= first.estimate <= first.high
    assert first.low >= 9.0 / 6.0 and first.high <= 12.0 / 4.0  # bounded by the extremes


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ([10.0, 10.1, 10.0], []),
        ([10.0, 10.0], ["only 2 trial(s): no interval or verdict from fewer than 3"]),
        ([10.0, 10.5, 20.0], ["unstable: the IQR is 48% of the median"]),
        (
            [30.0, 10.0, 10.0, 10.0, 10.0, 10.0],
            ["the first trial (30.0 s) was 3.0x the median of the rest"],
        ),
    ],
)
def test_warnings(seconds, expected):
    assert stability_warnings(seconds) == expected


def test_cells_count_failures_and_compare_with_no_cache_cold():
    records = [
        record("no-cache", "cold", 20.0, 1),
        record("no-cache", "cold", 22.0, 2),
        record("no-cache", "cold", 21.0, 3),
        record("venv", "warm", 7.0, 4),
        record("venv", "warm", 7.0, 5),
        record("venv", "warm", 99.0, 6, status="failure"),
        record("pip", "cold", 1.0, 7, status="failure"),
    ]
    cells = {(c.scenario, c.state): c for c in cell_stats(records)}
    venv = cells[("venv", "warm")]
    assert (venv.trials, venv.failed, venv.total.n, venv.total.median) == (3, 1, 2, 7.0)
    assert venv.phases["install"].median == pytest.approx(5.25)
    assert venv.speedup.estimate == pytest.approx(3.0)
    assert venv.archive_bytes == 100 and venv.index_bytes == 0
    assert "1 of 3 trials failed" in venv.warnings
    pip = cells[("pip", "cold")]
    assert pip.total is None and pip.speedup is None and pip.failed == 1
    assert cells[("no-cache", "cold")].speedup.estimate == 1.0


def test_no_interval_from_fewer_than_three_trials_a_side():
    one = speedup([10.0], [8.0])
    assert one.estimate == 1.25 and (one.low, one.high) == (None, None)
    assert not one.bounded and one.why_unbounded() == (
        "no interval from fewer than 3 trials (n=1 and 1)"
    )
    assert not speedup([10.0, 10.0, 10.0], [8.0, 8.0]).bounded
    assert speedup([10.0, 10.0, 10.0], [8.0, 8.0, 8.0]).bounded


def test_a_later_attempt_replaces_a_busy_trial():
    busy = record("venv", "warm", 50.0, 1, machine_busy=0.9)
    again = record("venv", "warm", 5.0, 9, machine_busy=0.01, attempt=2)
    again = dataclasses.replace(again, trial_id=busy.trial_id)  # the same trial, run again
    quiet = [record("venv", "warm", 5.0, n) for n in (2, 3)]
    (cell,) = cell_stats([busy, *quiet, again])
    assert cell.trials == 3 and cell.total.median == 5.0 and cell.busy_trials == 0
    (flagged,) = cell_stats([busy, *quiet])
    assert flagged.busy_trials == 1 and any("busy machine" in w for w in flagged.warnings)

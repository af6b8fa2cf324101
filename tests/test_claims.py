"""Claims' verdicts on crafted runs where each verdict is known."""

from __future__ import annotations

import pytest

from bench.report.claims import DEPENDS, FAILS, HOLDS, UNMEASURED, evaluate_claims
from bench.stats import cell_stats
from tests.helpers import trials


def verdicts(records):
    return {claim.text.split(" (")[0]: claim for claim in evaluate_claims(cell_stats(records))}


def claim(records, prefix):
    found = [c for text, c in verdicts(records).items() if text.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


@pytest.mark.parametrize(
    ("warm_installs", "expected"),
    [((5.0, 5.0), HOLDS), ((9.0, 9.5), FAILS), ((5.0, 9.5), DEPENDS)],
)
def test_pip_cache_makes_installs_much_faster(warm_installs, expected):
    records = []
    for deps, warm in zip(("cli", "web"), warm_installs, strict=True):
        records += trials(deps, "no-cache", "cold", install=10.0)
        records += trials(deps, "pip-cache", "warm", install=warm)
    result = claim(records, "Caching pip's download folder")
    assert result.verdict == expected
    assert len(result.evidence) == 2 and "without a cache" in result.evidence[0]


@pytest.mark.parametrize(("install", "expected"), [(0.6, HOLDS), (4.0, FAILS)])
def test_cached_venv_installs_in_under_a_second(install, expected):
    records = trials("cli", "venv-cache", "warm", install=install)
    assert claim(records, "A cached venv").verdict == expected


@pytest.mark.parametrize(("cold_total", "expected"), [(21.0, HOLDS), (19.0, FAILS), (30.0, FAILS)])
def test_a_cold_cache_costs_a_little_more(cold_total, expected):
    records = trials("cli", "no-cache", "cold", install=18.0, total=20.0)
    records += trials("cli", "pip-cache", "cold", install=18.0, total=cold_total)
    assert claim(records, "A cold cache costs").verdict == expected


@pytest.mark.parametrize(("warm_install", "expected"), [(19.0, HOLDS), (4.0, FAILS)])
def test_pip_keeps_no_built_wheels_judged_on_native(warm_install, expected):
    records = trials("native", "pip-cache", "cold", install=20.0)
    records += trials("native", "pip-cache", "warm", install=warm_install)
    assert claim(records, "pip's cache does not keep wheels").verdict == expected


def test_claims_without_their_cells_are_not_measured():
    records = trials("cli", "no-cache", "cold", install=10.0)
    for result in evaluate_claims(cell_stats(records)):
        assert result.verdict == UNMEASURED


@pytest.mark.parametrize(("partial_total", "expected"), [(12.0, HOLDS), (25.0, FAILS)])
def test_restore_keys_turn_misses_into_partial_hits(partial_total, expected):
    records = trials("cli", "pip-cache", "cold", install=18.0, total=20.0)
    records += trials("cli", "pip-cache", "partial", install=10.0, total=partial_total)
    assert claim(records, "restore-keys turn misses").verdict == expected


@pytest.mark.parametrize(("small_warm", "expected"), [(10.0, HOLDS), (2.0, FAILS)])
def test_venv_cache_wins_on_large_trees(small_warm, expected):
    records = trials("cli", "no-cache", "cold", install=18.0, total=20.0)
    records += trials("cli", "venv-cache-skip", "warm", install=0, total=small_warm, archive=10e6)
    records += trials("datascience", "no-cache", "cold", install=58.0, total=60.0)
    records += trials("datascience", "venv-cache-skip", "warm", install=0, total=8.0, archive=130e6)
    assert claim(records, "The venv cache wins").verdict == expected


def test_no_verdict_from_cells_with_fewer_than_three_trials():
    records = trials("cli", "no-cache", "cold", install=10.0, n=1)
    records += trials("cli", "pip-cache", "warm", install=2.0, n=1)
    result = claim(records, "Caching pip's download folder")
    assert result.verdict == "not enough trials (n=1)"
    assert "cli/no-cache/cold (n=1)" in result.evidence[0]


def test_a_short_set_is_left_out_and_named_while_the_others_judge():
    records = trials("cli", "no-cache", "cold", install=10.0)
    records += trials("cli", "pip-cache", "warm", install=2.0)
    records += trials("web", "no-cache", "cold", install=10.0, n=2)
    records += trials("web", "pip-cache", "warm", install=9.0, n=2)  # would not hold
    result = claim(records, "Caching pip's download folder")
    assert result.verdict == HOLDS
    assert any("web/no-cache/cold (n=2)" in line for line in result.evidence)

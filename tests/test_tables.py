"""Tables in every format and the CSV exports."""

from __future__ import annotations

import csv
import io

import pytest

from bench.errors import BenchError
from bench.report.tables import cells_csv, set_table, trials_csv
from bench.stats import cell_stats
from tests.helpers import record

RECORDS = [
    record("no-cache", "cold", 20.0, 1),
    record("no-cache", "cold", 22.0, 2),
    record("no-cache", "cold", 21.0, 3),
    record("venv", "warm", 5.0, 4),
    record("venv", "warm", 5.0, 5),
    record("venv", "warm", 5.0, 6),
    record("venv", "cold", 30.0, 7, status="failure"),
]


@pytest.fixture
def cells():
    return cell_stats(RECORDS)


@pytest.mark.parametrize(
    ("table_format", "marker"),
    [("github", "|---"), ("rst", "====="), ("plain", "scenario"), ("html", "<table>")],
)
def test_every_format_renders_the_rows(cells, table_format, marker):
    text = set_table(cells, "cli", table_format)
    assert marker in text
    assert "4.20x [4.00, 4.40]" in text  # 21 s / 5 s, bootstrap bounds from the extremes
    assert "21.0 (1.0) n=3" in text  # median total, IQR and trials of no-cache
    assert "venv (1/1 failed)" in text and "all failed" in text


def test_fewer_than_three_trials_give_no_interval():
    cells = cell_stats(RECORDS[:2] + RECORDS[3:5])  # two trials a side
    text = set_table(cells, "cli")
    assert "4.20x [—]" in text and "5.0 (0.0) n=2" in text
    summary = list(csv.DictReader(io.StringIO(cells_csv(cells))))
    warm = next(r for r in summary if r["state"] == "warm")
    assert warm["speedup"] == "4.2" and warm["speedup_low"] == warm["speedup_high"] == ""
    assert "no interval or verdict from fewer than 3" in warm["warnings"]


def test_an_unknown_format_is_a_clear_error(cells):
    with pytest.raises(BenchError, match="unknown table format 'latex'"):
        set_table(cells, "cli", "latex")


def test_csv_exports(cells):
    summary = list(csv.DictReader(io.StringIO(cells_csv(cells))))
    assert [(r["scenario"], r["state"]) for r in summary] == [
        ("no-cache", "cold"),
        ("venv", "cold"),
        ("venv", "warm"),
    ]
    assert float(summary[2]["total_median_s"]) == 5.0 and summary[1]["total_median_s"] == ""
    trials = list(csv.DictReader(io.StringIO(trials_csv(RECORDS))))
    assert len(trials) == 7 and trials[6]["status"] == "failure"

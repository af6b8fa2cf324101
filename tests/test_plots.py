"""Each figure is written as PNG and SVG, non-empty, with its axes' labels, title and caption."""

from __future__ import annotations

from bench.report.plots import all_figures
from bench.stats import cell_stats
from tests.helpers import record

RECORDS = [
    record("no-cache", "cold", 20.0, 1),
    record("no-cache", "cold", 22.0, 2),
    record("venv", "cold", 25.0, 3),
    record("venv", "warm", 5.0, 4),
    record("venv", "warm", 6.0, 5),
    record("venv", "warm", 60.0, 6, status="failure"),
    record("no-cache", "cold", 40.0, 7, deps="web"),
]
CONTEXT = {"profile": "github-hosted", "machine": "Test CPU, 2 cores"}


def test_every_figure_is_written_with_its_labels(tmp_path):
    paths = all_figures(cell_stats(RECORDS), RECORDS, tmp_path, CONTEXT)
    names = sorted(p.name for p in paths)
    assert names == sorted(
        f"{stem}.{ext}"
        for stem in ("phases-cli", "phases-web", "speedup", "archive-vs-restore")
        for ext in ("png", "svg")
    )
    for path in paths:
        assert path.stat().st_size > 1000
        if path.suffix == ".png":
            assert path.read_bytes().startswith(b"\x89PNG")
    phases = (tmp_path / "phases-cli.svg").read_text()
    for text in (
        "cli: where the job",
        "median time per phase (s)",
        "venv · warm",
        "restore",
        "install",
        "trials",
        "profile: github-hosted",
        "Test CPU, 2 cores",
    ):
        assert text in phases, text
    speed = (tmp_path / "speedup.svg").read_text()
    assert "speed-up against no-cache cold (log scale)" in speed
    for text in ("cold cache", "warm cache", "venv", "web"):
        assert text in speed, text
    # cli's venv warm: 21 s / 5.5 s from two trials, so the value is printed with its n
    assert "3.82x" in speed and "n=2" in speed
    archive = (tmp_path / "archive-vs-restore.svg").read_text()
    assert "archive restored (MB, compressed)" in archive
    assert "median restore phase (s)" in archive

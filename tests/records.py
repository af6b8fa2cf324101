"""Trial records for the statistics and report tests, built as the harness writes them."""

from __future__ import annotations

import itertools

from bench.results import TrialRecord

_order = itertools.count(1)


def record(scenario, state, seconds, order, status="success", deps="cli", **more) -> TrialRecord:
    """One trial: 3/4 of its time installing, 1/4 testing."""
    return TrialRecord(
        trial_id=f"{scenario}/{deps}/{state}/{order}",
        deps=deps,
        scenario=scenario,
        state=state,
        order=order,
        status=status,
        total_ns=int(seconds * 1e9),
        phases_ns={"install": int(seconds * 1e9 * 0.75), "test": int(seconds * 1e9 * 0.25)},
        restored_archive_bytes=100 if state == "warm" else 0,
        saved_archive_bytes=200 if state == "cold" else 0,
        mirror_bytes=1000 if state == "cold" else 0,
        harness_fraction=0.01,
        **more,
    )


def trials(deps, scenario, state, install, total=None, archive=0, n=3) -> list[TrialRecord]:
    """``n`` identical trials of one cell; the rest of ``total`` beyond ``install`` is testing."""
    total = total if total is not None else install + 2.0
    records = []
    for _ in range(n):
        order = next(_order)
        records.append(
            TrialRecord(
                trial_id=f"{scenario}/{deps}/{state}/{order}",
                deps=deps,
                scenario=scenario,
                state=state,
                order=order,
                status="success",
                total_ns=int(total * 1e9),
                phases_ns={"install": int(install * 1e9), "test": int((total - install) * 1e9)},
                restored_archive_bytes=archive,
                harness_fraction=0.01,
            )
        )
    return records

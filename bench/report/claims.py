"""Common advice about caching, tested against a run: each claim's evidence and verdict are
computed from the cell statistics, never written by hand.

A verdict is ``holds``, ``does not hold`` or ``depends on the set``; ``not measured`` when the
run lacks the cells the claim needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.stats import MIN_TRIALS, CellStats
from bench.vocabulary import REFERENCE_SCENARIO, REFERENCE_STATE, Cell

HOLDS, FAILS, DEPENDS, UNMEASURED = "holds", "does not hold", "depends on the set", "not measured"
# A cell with fewer successful trials than stats.MIN_TRIALS gives no evidence: a claim that only
# such cells could judge gets the verdict "not enough trials (n=...)".
MUCH_FASTER = 1.5  # "much faster": at least this ratio
A_LITTLE_MORE = 1.25  # "a little more": up to 25 % over


@dataclass(frozen=True)
class Claim:
    text: str
    verdict: str
    evidence: list[str]


Lookup = Callable[[str, str, str], CellStats | None]


class _Lookup:
    """Cells by identity, hiding those with too few trials and remembering which were hidden."""

    def __init__(self, cells: Sequence[CellStats]) -> None:
        self.index = {c.cell: c for c in cells if c.total is not None}
        self.short: dict[Cell, int] = {}

    def __call__(self, deps: str, scenario: str, state: str) -> CellStats | None:
        cell = self.index.get(Cell(deps, scenario, state))
        if cell is not None and cell.n < MIN_TRIALS:
            self.short[cell.cell] = cell.n
            return None
        return cell

    def judged(self, claim: Claim) -> Claim:
        """The claim, saying which cells were left out for too few trials."""
        if not self.short:
            return claim
        smallest = min(self.short.values())
        left_out = ", ".join(
            f"{c.deps}/{c.scenario}/{c.state} (n={n})" for c, n in self.short.items()
        )
        note = f"left out, fewer than {MIN_TRIALS} trials: {left_out}"
        if claim.verdict == UNMEASURED:
            return Claim(claim.text, f"not enough trials (n={smallest})", [note])
        return Claim(claim.text, claim.verdict, [*claim.evidence, note])


def _phase(cell: CellStats | None, phase: str) -> float | None:
    return cell.phases[phase].median if cell is not None else None


def _verdict(results: list[bool]) -> str:
    if not results:
        return UNMEASURED
    if all(results):
        return HOLDS
    if not any(results):
        return FAILS
    return DEPENDS


def evaluate_claims(cells: Sequence[CellStats]) -> list[Claim]:
    sets = sorted({c.deps for c in cells})
    judges: list[Callable[[Lookup], Claim]] = [
        lambda get: _pip_cache_much_faster(get, sets),
        lambda get: _venv_under_a_second(get, sets),
        lambda get: _cold_costs_a_little(get, sets),
        _pip_keeps_no_built_wheels,
        lambda get: _restore_keys_help(get, sets),
        lambda get: _venv_wins_on_large_trees(get, sets),
    ]
    claims = []
    for judge in judges:
        get = _Lookup(cells)
        claims.append(get.judged(judge(get)))
    return [
        Claim(c.text, c.verdict, c.evidence or ["the run has none of the cells this claim needs"])
        for c in claims
    ]


def _pip_cache_much_faster(get: Lookup, sets: list[str]) -> Claim:
    results, evidence = [], []
    for deps in sets:
        base, warm = (
            _phase(get(deps, REFERENCE_SCENARIO, REFERENCE_STATE), "install"),
            _phase(get(deps, "pip-cache", "warm"), "install"),
        )
        if base is None or warm is None or warm <= 0:
            continue
        ratio = base / warm
        results.append(ratio >= MUCH_FASTER)
        evidence.append(
            f"{deps}: install {base:.1f} s without a cache, {warm:.1f} s with a warm pip cache "
            f"({ratio:.2f}x)"
        )
    return Claim(
        f"Caching pip's download folder makes installs much faster (>= {MUCH_FASTER}x).",
        _verdict(results),
        evidence,
    )


def _venv_under_a_second(get: Lookup, sets: list[str]) -> Claim:
    results, evidence = [], []
    for deps in sets:
        install = _phase(get(deps, "venv-cache", "warm"), "install")
        if install is None:
            continue
        results.append(install < 1.0)
        evidence.append(f"{deps}: the install step on a venv cache hit takes {install:.2f} s")
    return Claim(
        "A cached venv installs in under a second on a hit (pip install still run).",
        _verdict(results),
        evidence,
    )


def _cold_costs_a_little(get: Lookup, sets: list[str]) -> Claim:
    results, evidence = [], []
    for deps in sets:
        base = get(deps, REFERENCE_SCENARIO, REFERENCE_STATE)
        cold = get(deps, "pip-cache", "cold")
        if base is None or cold is None or base.total is None or cold.total is None:
            continue
        ratio = cold.total.median / base.total.median
        results.append(1.0 < ratio <= A_LITTLE_MORE)
        evidence.append(
            f"{deps}: pip-cache cold {cold.total.median:.1f} s against {REFERENCE_SCENARIO} "
            f"{base.total.median:.1f} s ({ratio:.2f}x)"
        )
    return Claim(
        f"A cold cache costs a little more than no cache (more, by at most "
        f"{A_LITTLE_MORE - 1:.0%}).",
        _verdict(results),
        evidence,
    )


def _pip_keeps_no_built_wheels(get: Lookup) -> Claim:
    """On the native set, a warm pip cache that kept the built wheels installs much faster."""
    cold, warm = (
        _phase(get("native", "pip-cache", "cold"), "install"),
        _phase(get("native", "pip-cache", "warm"), "install"),
    )
    if cold is None or warm is None or warm <= 0:
        return Claim(_BUILT_WHEELS, UNMEASURED, ["the run has no pip-cache trials on native"])
    ratio = cold / warm
    kept = ratio >= MUCH_FASTER
    evidence = [
        f"native: pip-cache install {cold:.1f} s cold, {warm:.1f} s warm ({ratio:.2f}x); "
        + ("the compiled wheels were reused" if kept else "the packages were built again")
    ]
    return Claim(_BUILT_WHEELS, FAILS if kept else HOLDS, evidence)


_BUILT_WHEELS = "pip's cache does not keep wheels built from sdists (judged on the native set)."


def _restore_keys_help(get: Lookup, sets: list[str]) -> Claim:
    results, evidence = [], []
    for deps in sets:
        for scenario in ("pip-cache", "venv-cache", "uv", "poetry", "pipenv"):
            cold, partial = get(deps, scenario, "cold"), get(deps, scenario, "partial")
            if cold is None or partial is None or cold.total is None or partial.total is None:
                continue
            faster = partial.total.median < cold.total.median
            results.append(faster)
            evidence.append(
                f"{deps}/{scenario}: partial {partial.total.median:.1f} s, "
                f"cold {cold.total.median:.1f} s"
            )
    return Claim(
        "restore-keys turn misses into useful partial hits (a partial hit beats a miss).",
        _verdict(results),
        evidence,
    )


def _venv_wins_on_large_trees(get: Lookup, sets: list[str]) -> Claim:
    """Size is the venv's archive; the claim holds when the largest gains most, the smallest
    least."""
    gains, sizes = {}, {}
    for deps in sets:
        warm = get(deps, "venv-cache-skip", "warm")
        if warm is not None and warm.speedup is not None and warm.archive_bytes:
            gains[deps], sizes[deps] = warm.speedup.estimate, warm.archive_bytes
    if len(gains) < 2:
        return Claim(_LARGE, UNMEASURED, ["needs venv-cache-skip warm on two sets or more"])
    largest, smallest = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
    evidence = [
        f"{deps}: venv archive {sizes[deps] / 1e6:.0f} MB, venv-cache-skip warm {gains[deps]:.2f}x"
        for deps in sorted(gains, key=sizes.get)
    ]
    holds = gains[largest] == max(gains.values()) and gains[smallest] == min(gains.values())
    return Claim(_LARGE, HOLDS if holds else FAILS, evidence)


_LARGE = "The venv cache wins on large dependency trees and matters least for small ones."

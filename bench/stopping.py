"""When ``--reps auto`` stops: a pure rule over each cell's totals so far.

After any round, a cell stops when it is

- **out of contention**: within its set and cache state, its fastest trial took more than
  ``CONTENTION_MARGIN`` times (and ``CONTENTION_GAP_S`` seconds more than) the slowest trial of
  the ``PODIUM`` fastest cells. Such a cell cannot reach the podium on any plausible noise (the
  same cell's trials spread by up to a third here), so its further trials would only spend the
  budget; it keeps the trials it has, shown without an interval when fewer than three. Should
  the podium's trials later slow past its bar, it is back in the running. The reference cell
  (``no-cache`` cold) never is out: every speed-up is measured against it.

After at least ``MIN_ROUNDS`` rounds, a cell stops when

- **converged**: the 95 % bootstrap interval of its median lies within ±5 % of the median; or
- **ranking settled**: its set's ranking is settled, meaning that within one set and cache
  state, each pair of neighbours among the ``PODIUM`` fastest contenders by median (and the
  third against the fourth, if any) is told apart by the 95 % bootstrap interval of the ratio
  of their medians: **faster** when it lies above 1 (the test ``compare`` and ``advise`` use),
  **tied** when it lies within ±``TIE`` (a difference too small to matter, which more trials
  would only confirm); cells out of contention are behind by construction; or
- **behind the podium**: a contender outside the ``PODIUM`` surely slower than the third (the
  same test): its place relative to the top three is known, and further trials would only
  refine a figure nobody ranks by; or
- **budget**: the run's time budget is spent, or has no room left for the cell's next trial
  (checked by the caller, ``execute.Budget``, before each trial); or
- **round limit**: ``MAX_ROUNDS`` rounds ran without either of the above; or
- **failing**: none of its trials succeeded (more would fail alike and spend the budget; it is
  left out of its set's ranking).

The intervals are seeded, so the same totals always give the same decision.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bench.vocabulary import Cell

MIN_ROUNDS = 3
DEFAULT_BUDGET_MIN = 45.0  # --budget's default with --reps auto (the default matrix's target)
MAX_ROUNDS = 20
PRECISION = 0.05  # ±5 % of the median
PODIUM = 3
RESAMPLES = 1000
CONTENTION_MARGIN = 1.5  # out of contention: fastest trial over 1.5x the podium's slowest ...
CONTENTION_GAP_S = 1.5  # ... and at least 1.5 s slower (a 3 s job's noise is a second or so)
TIE = 0.05  # neighbours whose medians' ratio is surely within ±5 % are tied

CONVERGED = "converged"
SETTLED = "ranking settled"
BUDGET = "budget spent"
ROUND_LIMIT = "round limit"
FAILING = "every trial failed"
OUT_OF_CONTENTION = "out of contention"
BEHIND = "behind the podium"

FASTER = "faster than"
TIED = "ties with"
UNSURE = "not yet told apart from"


@dataclass(frozen=True)
class MedianInterval:
    median: float
    low: float
    high: float


def median_interval(values: Sequence[float], seed: int = 0) -> MedianInterval:
    """The median and its 95 % percentile bootstrap interval."""
    rng = random.Random(seed)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(RESAMPLES)
    )
    low = medians[int(0.025 * (RESAMPLES - 1))]
    high = medians[int(0.975 * (RESAMPLES - 1))]
    return MedianInterval(statistics.median(values), low, high)


def converged(values: Sequence[float], precision: float = PRECISION, seed: int = 0) -> bool:
    if len(values) < MIN_ROUNDS:
        return False
    interval = median_interval(values, seed)
    return (
        interval.median > 0
        and interval.low >= interval.median * (1 - precision)
        and interval.high <= interval.median * (1 + precision)
    )


def out_of_contention(totals: Mapping[Cell, Sequence[float]]) -> set[Cell]:
    """The cells of one set and state that cannot plausibly reach its ``PODIUM``."""
    measured = {cell: values for cell, values in totals.items() if values}
    if len(measured) <= PODIUM:
        return set()
    ranked = sorted(measured, key=lambda cell: statistics.median(measured[cell]))
    slowest_on_podium = max(max(measured[cell]) for cell in ranked[:PODIUM])
    bar = max(slowest_on_podium * CONTENTION_MARGIN, slowest_on_podium + CONTENTION_GAP_S)
    # The reference cell stays: every speed-up is measured against it, with its own interval.
    return {c for c in ranked[PODIUM:] if min(measured[c]) > bar and not c.is_reference}


def ratio_interval(
    first: Sequence[float], second: Sequence[float], seed: int = 0
) -> MedianInterval:
    """``median(second) / median(first)`` and its 95 % bootstrap interval, both resampled."""
    rng = random.Random(seed)
    ratios = sorted(
        statistics.median(rng.choices(second, k=len(second)))
        / statistics.median(rng.choices(first, k=len(first)))
        for _ in range(RESAMPLES)
    )
    center = statistics.median(second) / statistics.median(first)
    return MedianInterval(
        center, ratios[int(0.025 * (RESAMPLES - 1))], ratios[int(0.975 * (RESAMPLES - 1))]
    )


def relation(first: Sequence[float], second: Sequence[float], seed: int = 0) -> str:
    """How ``first`` (the faster median) stands against ``second``: ``FASTER``, ``TIED`` or
    ``UNSURE`` (also with fewer than ``MIN_ROUNDS`` trials on either side)."""
    if len(first) < MIN_ROUNDS or len(second) < MIN_ROUNDS:
        return UNSURE
    ratio = ratio_interval(first, second, seed)
    if ratio.low > 1:
        return FASTER
    if ratio.low >= 1 / (1 + TIE) and ratio.high <= 1 + TIE:
        return TIED
    return UNSURE


# ``trials_to_tell_apart``: a normal approximation on log times. A sample median's standard
# error is about sqrt(pi / 2) times its mean's; 1.96 and 0.84 give a 95 % interval clear of the
# margin 4 times in 5 (80 % power).
_MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2)
_Z_INTERVAL, _Z_POWER = 1.96, 0.84


def trials_to_tell_apart(first: Sequence[float], second: Sequence[float]) -> int | None:
    """About how many trials each of two cells needs, at the spread and gap they show so far,
    before ``relation`` tells them apart 4 times in 5 (None with fewer than ``MIN_ROUNDS``
    trials on a side, or a time that is not positive).

    The interval of their medians' log ratio must clear the nearer of two margins: the gap
    itself (for *faster*) or the tie band's edge less the gap (for *tied*). Gaps of about half
    the tie band are the slowest to tell: neither verdict is near. A rough guide, not a
    promise: simulated against ``relation`` it is within a factor of two of the count that
    tells them apart 4 times in 5 (low for equal cells, high for gaps near half the band).
    """
    if len(first) < MIN_ROUNDS or len(second) < MIN_ROUNDS:
        return None
    if min(min(first), min(second)) <= 0:
        return None
    logs = [[math.log(v) for v in values] for values in (first, second)]
    gap = abs(statistics.median(logs[1]) - statistics.median(logs[0]))
    margin = max(gap, math.log(1 + TIE) - gap)
    variance = sum(_robust_sd(values) ** 2 for values in logs)
    needed = variance * ((_Z_INTERVAL + _Z_POWER) * _MEDIAN_SE_FACTOR / margin) ** 2
    return max(MIN_ROUNDS, math.ceil(needed))


def _robust_sd(values: Sequence[float]) -> float:
    """The standard deviation a normal sample with this median absolute deviation has."""
    center = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - center) for v in values)


def by_set_and_state(
    totals: Mapping[Cell, Sequence[float]],
) -> dict[tuple[str, str], dict[Cell, Sequence[float]]]:
    """The measured cells grouped by ``(set, state)``: the groups a ranking is judged in."""
    groups: dict[tuple[str, str], dict[Cell, Sequence[float]]] = {}
    for cell, values in totals.items():
        if values:
            groups.setdefault((cell.deps, cell.state), {})[cell] = values
    return groups


def _ranked_contenders(
    totals: Mapping[Cell, Sequence[float]],
) -> tuple[list[Cell], dict[Cell, Sequence[float]]]:
    """One group's measured cells not out of contention, fastest median first."""
    behind = out_of_contention(totals)
    contenders = {c: v for c, v in totals.items() if v and c not in behind}
    return sorted(contenders, key=lambda c: statistics.median(contenders[c])), contenders


@dataclass(frozen=True)
class Neighbours:
    first: Cell
    relation: str  # FASTER, TIED or UNSURE
    second: Cell


def podium(totals: Mapping[Cell, Sequence[float]], seed: int = 0) -> list[Neighbours]:
    """The contenders of one set and state by median, each ``PODIUM`` neighbour pair (and the
    third against the fourth) with how they stand; cells out of contention are left out."""
    ranked, contenders = _ranked_contenders(totals)
    return [
        Neighbours(a, relation(contenders[a], contenders[b], seed), b)
        for a, b in itertools.pairwise(ranked[: PODIUM + 1])
    ]


def unsettled_pairs(totals: Mapping[Cell, Sequence[float]]) -> list[tuple[Neighbours, int]]:
    """One set and state's podium pairs not yet told apart, each with about how many trials in
    all each of its cells needs (``trials_to_tell_apart``; pairs with fewer than
    ``MIN_ROUNDS`` trials a side give no estimate and are left out)."""
    estimates = []
    for pair in podium(totals):
        if pair.relation != UNSURE:
            continue
        trials = trials_to_tell_apart(totals[pair.first], totals[pair.second])
        if trials is not None:
            estimates.append((pair, trials))
    return estimates


def trials_per_cell(estimates: Sequence[tuple[Neighbours, int]]) -> dict[Cell, int]:
    """``unsettled_pairs``' estimates by cell: a cell in two pairs needs the larger count."""
    needed: dict[Cell, int] = {}
    for pair, trials in estimates:
        for cell in (pair.first, pair.second):
            needed[cell] = max(needed.get(cell, 0), trials)
    return needed


def trials_to_settle(totals: Mapping[Cell, Sequence[float]]) -> dict[Cell, int]:
    """For one set and state whose podium is not settled: about how many trials in all each
    cell of a pair not yet told apart needs."""
    return trials_per_cell(unsettled_pairs(totals))


def ranking_settled(totals: Mapping[Cell, Sequence[float]], seed: int = 0) -> bool:
    """Whether every neighbour pair on the podium is told apart (faster or tied), every
    contender having ``MIN_ROUNDS`` trials (one with fewer might belong on the podium)."""
    _ranked, contenders = _ranked_contenders(totals)
    if len(contenders) < 2 or any(len(v) < MIN_ROUNDS for v in contenders.values()):
        return False
    return all(pair.relation != UNSURE for pair in podium(totals, seed))


def behind_the_podium(totals: Mapping[Cell, Sequence[float]], seed: int = 0) -> set[Cell]:
    """Contenders outside the podium surely slower than the third (``relation``)."""
    ranked, contenders = _ranked_contenders(totals)
    if len(ranked) <= PODIUM or len(contenders[ranked[PODIUM - 1]]) < MIN_ROUNDS:
        return set()
    third = contenders[ranked[PODIUM - 1]]
    return {
        cell
        for cell in ranked[PODIUM:]
        if not cell.is_reference and relation(third, contenders[cell], seed) == FASTER
    }


def stop_reasons(
    totals: Mapping[Cell, Sequence[float]], rounds: int, seed: int = 0
) -> dict[Cell, str | None]:
    """Why each cell stops after ``rounds`` rounds, or None for a cell that needs more trials.

    The ranking is judged per set and state (a warm cell is not ranked against a cold one).
    """
    groups = by_set_and_state(totals)
    behind = set().union(*(out_of_contention(group) for group in groups.values()))
    trailing = set().union(*(behind_the_podium(group, seed) for group in groups.values()))
    settled = {key for key, group in groups.items() if ranking_settled(group, seed)}
    reasons: dict[Cell, str | None] = {}
    for cell, values in totals.items():
        if cell in behind:
            reasons[cell] = OUT_OF_CONTENTION
        elif rounds < MIN_ROUNDS:
            reasons[cell] = None
        elif not values:
            reasons[cell] = FAILING
        elif converged(values, seed=seed):
            reasons[cell] = CONVERGED
        elif (cell.deps, cell.state) in settled:
            reasons[cell] = SETTLED
        elif cell in trailing:
            reasons[cell] = BEHIND
        elif rounds >= MAX_ROUNDS:
            reasons[cell] = ROUND_LIMIT
        else:
            reasons[cell] = None
    return reasons


def podium_cells(totals: Mapping[Cell, Sequence[float]]) -> set[Cell]:
    """Each set and state's ``PODIUM`` fastest cells so far, and the reference cells: the
    comparisons the ranking needs, so their cells go first in a round and a budget that runs
    out mid-round cuts the others."""
    groups = by_set_and_state(totals)
    leading = {cell for cell in totals if cell.is_reference}
    for group in groups.values():
        leading |= set(sorted(group, key=lambda cell: statistics.median(group[cell]))[:PODIUM])
    return leading


# --- advise: candidates ranked by expected time -------------------------------------------
#
# With the hit rates a repository's history gives each candidate (``weights``: scenario ->
# state -> share of runs), a candidate is judged as a whole, by its expected time per run
# ``sum(weight * median)`` over the states it meets; states it never meets are not planned.
# The same rules apply to candidates instead of cells: out of contention (its optimistic
# expected time, each state's fastest trial, over the bar set by the podium's pessimistic ones),
# converged (per cell), and settled: the winner's interval below every other contender's, which
# is what the recommendation needs (whether the winner beats the runner-up). The podium that
# sets the contention bar is the winner and the runner-up. Their cells do not stop on
# converging while the set is unsettled: two cells each within ±5 % can still overlap, and the
# answer is whether the winner beats the runner-up, so the budget goes there.

EXPECTED_PODIUM = 2


def expected_stop_reasons(
    totals: Mapping[Cell, Sequence[float]],
    rounds: int,
    weights: Mapping[str, Mapping[str, float]],
    keep: str | None = None,
    seed: int = 0,
) -> dict[Cell, str | None]:
    """Why each cell stops, candidates ranked by expected time; ``keep`` is never out of
    contention (advise's baseline: the saving against it needs its own interval).

    A scenario missing from ``weights`` caches nothing: every run of it is a cold one.
    """
    by_set: dict[str, dict[str, dict[str, Sequence[float]]]] = {}
    for cell, values in totals.items():
        by_set.setdefault(cell.deps, {}).setdefault(cell.scenario, {})[cell.state] = values
    behind: set[tuple[str, str]] = set()
    settled: set[str] = set()
    for deps, candidates in by_set.items():
        needs = {name: _needed(weights, name) for name in candidates}
        measured = {
            name: states
            for name, states in candidates.items()
            if all(states.get(s) for s in needs[name])
        }
        out = _expected_out_of_contention(measured, needs, keep)
        behind |= {(deps, name) for name in out}
        contenders = {n: s for n, s in measured.items() if n not in out}
        if rounds >= MIN_ROUNDS and _expected_settled(contenders, needs, seed):
            settled.add(deps)
    leaders = leading_candidates(totals, weights)
    reasons: dict[Cell, str | None] = {}
    for cell, values in totals.items():
        deciding = (cell.deps, cell.scenario) in leaders and cell.deps not in settled
        if (cell.deps, cell.scenario) in behind:
            reasons[cell] = OUT_OF_CONTENTION
        elif rounds < MIN_ROUNDS:
            reasons[cell] = None
        elif not values:
            reasons[cell] = FAILING
        elif converged(values, seed=seed) and not deciding:
            reasons[cell] = CONVERGED
        elif cell.deps in settled:
            reasons[cell] = SETTLED
        elif rounds >= MAX_ROUNDS:
            reasons[cell] = ROUND_LIMIT
        else:
            reasons[cell] = None
    return reasons


def leading_candidates(
    totals: Mapping[Cell, Sequence[float]],
    weights: Mapping[str, Mapping[str, float]],
    keep: str | None = None,
) -> set[tuple[str, str]]:
    """``(set, scenario)`` of each set's ``EXPECTED_PODIUM`` fastest candidates by expected
    time so far, and ``keep``'s: the comparisons the answer needs, so their cells go first in a
    round and a budget that runs out mid-round cuts the others."""
    by_set: dict[str, dict[str, dict[str, Sequence[float]]]] = {}
    for cell, values in totals.items():
        by_set.setdefault(cell.deps, {}).setdefault(cell.scenario, {})[cell.state] = values
    leading = set()
    for deps, candidates in by_set.items():
        needs = {name: _needed(weights, name) for name in candidates}
        measured = [n for n, states in candidates.items() if all(states.get(s) for s in needs[n])]
        measured.sort(key=lambda n: _expected(candidates[n], needs[n], statistics.median))
        leading |= {(deps, name) for name in measured[:EXPECTED_PODIUM]}
        if keep in candidates:
            leading.add((deps, keep))
    return leading


def _needed(weights: Mapping[str, Mapping[str, float]], scenario: str) -> dict[str, float]:
    shares = weights.get(scenario, {"cold": 1.0})
    return {state: share for state, share in shares.items() if share > 0}


def _expected(
    states: Mapping[str, Sequence[float]],
    needs: Mapping[str, float],
    pick: Callable[[Sequence[float]], float],
) -> float:
    return sum(share * pick(states[state]) for state, share in needs.items())


def _expected_out_of_contention(
    measured: Mapping[str, Mapping[str, Sequence[float]]],
    needs: Mapping[str, Mapping[str, float]],
    keep: str | None,
) -> set[str]:
    if len(measured) <= EXPECTED_PODIUM:
        return set()
    ranked = sorted(measured, key=lambda n: _expected(measured[n], needs[n], statistics.median))
    slowest = max(_expected(measured[n], needs[n], max) for n in ranked[:EXPECTED_PODIUM])
    bar = max(slowest * CONTENTION_MARGIN, slowest + CONTENTION_GAP_S)
    return {
        name
        for name in ranked[EXPECTED_PODIUM:]
        if name != keep and _expected(measured[name], needs[name], min) > bar
    }


def _expected_settled(
    contenders: Mapping[str, Mapping[str, Sequence[float]]],
    needs: Mapping[str, Mapping[str, float]],
    seed: int,
) -> bool:
    """The winner is told apart from every other contender, each from at least
    ``MIN_ROUNDS`` trials in every state it meets: its expected time's interval below the
    other's, or tied (the interval of their ratio, draw by draw, within ±``TIE``)."""
    enough = all(len(contenders[n][s]) >= MIN_ROUNDS for n in contenders for s in needs[n])
    if len(contenders) < 2 or not enough:
        return False
    rng = random.Random(seed)
    draws = {
        name: [
            sum(
                share * statistics.median(rng.choices(states[s], k=len(states[s])))
                for s, share in needs[name].items()
            )
            for _ in range(RESAMPLES)
        ]
        for name, states in contenders.items()
    }
    centers = {name: _expected(states, needs[name], statistics.median)
               for name, states in contenders.items()}  # fmt: skip
    winner = min(centers, key=centers.__getitem__)

    def bounds(values: Sequence[float]) -> tuple[float, float]:
        ordered = sorted(values)
        return ordered[int(0.025 * (RESAMPLES - 1))], ordered[int(0.975 * (RESAMPLES - 1))]

    winner_high = bounds(draws[winner])[1]
    for name in contenders:
        if name == winner or winner_high < bounds(draws[name])[0]:
            continue
        low, high = bounds([o / w for o, w in zip(draws[name], draws[winner], strict=True)])
        if not (low >= 1 / (1 + TIE) and high <= 1 + TIE):
            return False
    return True

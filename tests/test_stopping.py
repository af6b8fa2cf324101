"""--reps auto's stopping rule on synthetic series: one that converges, some that never do."""

from __future__ import annotations

import random
import statistics

from bench.stopping import (
    BEHIND,
    CONVERGED,
    FAILING,
    FASTER,
    MAX_ROUNDS,
    OUT_OF_CONTENTION,
    ROUND_LIMIT,
    SETTLED,
    TIED,
    UNSURE,
    behind_the_podium,
    converged,
    expected_stop_reasons,
    leading_candidates,
    median_interval,
    out_of_contention,
    podium,
    podium_cells,
    ranking_settled,
    relation,
    stop_reasons,
    trials_to_settle,
    trials_to_tell_apart,
)
from bench.vocabulary import Cell

A, B, C, D, E = (Cell("cli", name, "warm") for name in ("a", "b", "c", "d", "e"))


def converging(n, seed=1):
    """Trials around 10 s with 1 % noise: the median's interval narrows as n grows."""
    rng = random.Random(seed)
    return [10.0 * (1 + rng.uniform(-0.01, 0.01)) for _ in range(n)]


def wild(n, seed=2):
    """Trials spread between 5 and 20 s: the interval never gets within 5 %."""
    rng = random.Random(seed)
    return [rng.choice([5.0, 20.0]) * (1 + rng.uniform(-0.3, 0.3)) for _ in range(n)]


def test_the_median_interval_holds_the_median_and_is_reproducible():
    values = wild(9)
    interval = median_interval(values, seed=4)
    assert interval.low <= interval.median <= interval.high
    assert interval == median_interval(values, seed=4)


def test_a_converging_series_stops_and_a_wild_one_does_not():
    assert not converged(converging(2))  # never before three rounds
    assert converged(converging(5))
    for n in range(3, 30):
        assert not converged(wild(n)), n


def test_the_ranking_settles_when_the_podium_is_separated():
    separated = {A: [5.0, 5.1, 5.05], B: [8.0, 8.2, 8.1], C: [12.0, 12.1, 12.2], D: [20.0] * 3}
    assert ranking_settled(separated)
    overlapping = {A: [5.0, 9.0, 7.0], B: [6.0, 8.5, 7.5], C: [12.0, 12.1, 12.2]}
    assert not ranking_settled(overlapping)


def test_each_cell_says_why_it_stopped_or_goes_on():
    totals = {A: converging(4), B: wild(4), C: wild(4, seed=3)}
    assert stop_reasons(totals, rounds=2) == {A: None, B: None, C: None}
    reasons = stop_reasons(totals, rounds=4)
    assert reasons[A] == CONVERGED and reasons[B] is None and reasons[C] is None
    assert stop_reasons(totals, rounds=MAX_ROUNDS)[B] == ROUND_LIMIT


def test_a_settled_set_stops_its_noisy_cells_too():
    rng = random.Random(5)
    noisy_fast = [2.0 * (1 + rng.uniform(-0.2, 0.2)) for _ in range(6)]
    totals = {A: noisy_fast, B: [8.0, 8.1, 8.2, 7.9, 8.0, 8.1], C: [30.0, 31.0, 29.0, 30.5]}
    reasons = stop_reasons(totals, rounds=6)
    assert reasons[A] == SETTLED  # its own interval is wide, but nothing can overtake it
    assert reasons[B] == CONVERGED


def test_a_series_that_never_converges_runs_to_the_round_limit():
    totals = {A: wild(3), B: wild(3, seed=7)}
    stopped_at = None
    for rounds in range(3, MAX_ROUNDS + 1):
        totals = {A: wild(rounds), B: wild(rounds, seed=7)}
        if all(stop_reasons(totals, rounds)[c] is not None for c in totals):
            stopped_at = rounds
            break
    assert stopped_at == MAX_ROUNDS


def test_a_cell_whose_every_trial_failed_stops_and_does_not_hold_up_its_set():
    rng = random.Random(5)
    noisy_fast = [2.0 * (1 + rng.uniform(-0.2, 0.2)) for _ in range(4)]
    totals = {A: noisy_fast, B: [8.0, 8.1, 8.2, 7.9], C: [30.0, 31.0, 29.0, 30.5], D: []}
    assert stop_reasons(totals, rounds=2)[D] is None  # before the minimum rounds: not yet
    reasons = stop_reasons(totals, rounds=4)
    assert reasons[D] == FAILING
    assert reasons[A] == SETTLED  # the failing cell is left out of the ranking


def test_a_cell_far_behind_the_podium_stops_after_one_round():
    totals = {A: [3.0], B: [3.2], C: [3.5], D: [9.0], E: [4.0]}
    reasons = stop_reasons(totals, rounds=1)
    assert reasons[D] == OUT_OF_CONTENTION  # 9 s against a podium whose slowest took 3.5 s
    assert reasons[E] is None  # close behind: it needs trials before anything is said
    assert reasons[A] is None and reasons[B] is None and reasons[C] is None


def test_the_reference_cell_stays_in_contention_however_slow():
    reference = Cell("cli", "no-cache", "cold")
    cold = {Cell("cli", n, "cold"): [3.0 + i / 10] for i, n in enumerate("abc")}
    assert out_of_contention({**cold, reference: [30.0]}) == set()


def test_contention_needs_a_gap_in_seconds_too_and_a_fourth_cell():
    assert out_of_contention({A: [1.0], B: [1.1], C: [1.2], D: [2.0]}) == set()  # 1.7x, 0.8 s
    assert out_of_contention({A: [1.0], B: [1.1], C: [9.0]}) == set()  # all on the podium
    assert out_of_contention({A: [1.0], B: [1.1], C: [1.2], D: [1.0, 9.0]}) == set()  # its best


def test_a_cell_is_back_in_the_running_when_the_podium_slows():
    assert stop_reasons({A: [3.0], B: [3.2], C: [3.5], D: [9.0]}, rounds=1)[D] == OUT_OF_CONTENTION
    slower = {A: [3.0, 3.1], B: [3.2, 3.3], C: [3.5, 7.0], D: [9.0]}
    assert stop_reasons(slower, rounds=2)[D] is None


def test_the_ranking_settles_among_contenders_without_waiting_for_those_behind():
    totals = {A: [5.0, 5.1, 5.05], B: [8.0, 8.2, 8.1], C: [12.0, 12.1, 12.2], D: [40.0]}
    assert ranking_settled(totals)
    reasons = stop_reasons(totals, rounds=3)
    assert reasons[D] == OUT_OF_CONTENTION and reasons[C] in (CONVERGED, SETTLED)


def test_neighbours_within_five_percent_of_each_other_tie_and_the_ranking_settles():
    totals = {
        A: [10.0, 10.3, 10.1, 9.9, 10.2],
        B: [10.1, 10.0, 10.35, 10.2, 9.95],  # overlaps A, and surely within ±5 % of it
        C: [15.0, 15.2, 14.9],
        D: [20.0, 20.1, 19.9],
    }
    assert [(p.first, p.relation, p.second) for p in podium(totals)] == [
        (A, TIED, B),
        (B, FASTER, C),
        (C, FASTER, D),
    ]
    assert ranking_settled(totals)


def test_neighbours_too_noisy_to_tell_apart_keep_the_ranking_open():
    assert relation([5.0, 9.0, 7.0], [6.0, 8.5, 7.5]) == UNSURE
    assert relation([10.0, 10.1], [20.0, 20.1, 20.2]) == UNSURE  # two trials: nothing said
    assert relation([10.0, 10.1, 10.05], [10.8, 10.9, 10.85]) == FASTER  # 8 % apart, tight
    # 8 % apart and overlapping: neither faster nor surely within ±5 %
    noisy_a, noisy_b = [9.0, 10.0, 11.0, 10.5], [9.8, 10.8, 11.8, 10.3]
    assert relation(noisy_a, noisy_b) == UNSURE
    totals = {A: noisy_a, B: noisy_b, C: [20.0, 20.5, 21.0]}
    assert not ranking_settled(totals)
    assert stop_reasons(totals, rounds=4)[A] is None


def test_a_contender_clear_of_the_third_stops_behind_the_podium():
    totals = {
        A: [9.0, 10.0, 11.0],
        B: [10.0, 11.0, 12.0],
        C: [11.0, 12.0, 12.5],
        D: [13.5, 15.0, 16.0],  # clear of C's interval, though not out of contention
        E: [12.2, 13.0, 14.0],  # overlaps C: it might belong on the podium
    }
    assert out_of_contention(totals) == set()
    assert behind_the_podium(totals) == {D}
    reasons = stop_reasons(totals, rounds=3)
    assert reasons[D] == BEHIND and reasons[E] is None and reasons[A] is None
    reference = Cell("cli", "no-cache", "cold")
    cold = {Cell("cli", c.scenario, "cold"): v for c, v in totals.items()}
    assert behind_the_podium({**cold, reference: [13.6, 15.1, 16.2]}) == {
        Cell("cli", "d", "cold")
    }  # the reference is never left behind: every speed-up needs its interval


def test_a_round_runs_the_podiums_and_the_reference_first():
    reference = Cell("cli", "no-cache", "cold")
    totals = {A: [3.0], B: [3.5], C: [4.0], D: [4.5], reference: [9.0], E: []}
    assert podium_cells(totals) == {A, B, C, reference}


def cells(name, **states):
    return {Cell("proj", name, state): values for state, values in states.items()}


def test_advise_ranks_candidates_by_expected_time_and_keeps_the_baseline():
    weights = {name: {"warm": 0.9, "cold": 0.1} for name in "abcde"}
    totals = {
        **cells("a", warm=[3.0], cold=[10.0]),
        **cells("b", warm=[3.2], cold=[11.0]),
        **cells("c", warm=[5.0], cold=[9.0]),  # expected 5.4: close enough to stay
        **cells("d", warm=[20.0], cold=[30.0]),  # far behind
        **cells("e", warm=[25.0], cold=[40.0]),  # far behind, but the baseline
    }
    reasons = expected_stop_reasons(totals, rounds=1, weights=weights, keep="e")
    assert reasons[Cell("proj", "d", "warm")] == OUT_OF_CONTENTION
    assert reasons[Cell("proj", "d", "cold")] == OUT_OF_CONTENTION
    assert reasons[Cell("proj", "e", "warm")] is None
    assert reasons[Cell("proj", "c", "cold")] is None


def test_advise_settles_when_the_winner_is_clear_of_every_other_candidate():
    weights = {name: {"warm": 0.8, "cold": 0.2} for name in "abc"}
    rng = random.Random(3)

    def noisy(center):
        return [center * (1 + rng.uniform(-0.2, 0.2)) for _ in range(4)]

    totals = {
        **cells("a", warm=noisy(3), cold=noisy(10)),
        **cells("b", warm=noisy(6), cold=noisy(12)),
        **cells("c", warm=noisy(9), cold=noisy(14)),
    }
    reasons = expected_stop_reasons(totals, rounds=4, weights=weights)
    assert reasons[Cell("proj", "a", "warm")] == SETTLED  # noisy, but nothing can overtake it
    tied = {**totals, **cells("b", warm=noisy(3), cold=noisy(10))}
    reasons = expected_stop_reasons(tied, rounds=4, weights=weights)
    assert reasons[Cell("proj", "a", "warm")] is None  # a and b overlap: more trials
    # a and b tie within ±5 % on expected time (mostly warm); their cold cells have not
    # converged, but more trials of them would not change the answer
    close = {
        **totals,
        **cells("a", warm=[3.0, 3.02, 2.99, 3.01], cold=[8.5, 10.0, 11.5, 9.0]),
        **cells("b", warm=[3.01, 2.98, 3.02, 3.0], cold=[11.0, 9.5, 8.8, 10.2]),
    }
    mostly_warm = {name: {"warm": 0.95, "cold": 0.05} for name in "abc"}
    reasons = expected_stop_reasons(close, rounds=4, weights=mostly_warm)
    assert reasons[Cell("proj", "a", "cold")] == SETTLED
    assert reasons[Cell("proj", "b", "cold")] == SETTLED


def test_advise_keeps_running_converged_leaders_it_cannot_yet_tell_apart():
    weights = {name: {"cold": 1.0} for name in "abc"}
    rng = random.Random(5)

    def within_3_percent(center):
        return [center * (1 + rng.uniform(-0.03, 0.03)) for _ in range(5)]

    totals = {
        **cells("a", cold=within_3_percent(10.0)),
        **cells("b", cold=within_3_percent(10.5)),  # 5 % slower: neither told apart nor tied
        **cells("c", cold=within_3_percent(11.0)),
    }
    assert all(converged(values) for values in totals.values() if values)
    reasons = expected_stop_reasons(totals, rounds=5, weights=weights)
    assert reasons[Cell("proj", "a", "cold")] is None  # the winner and the runner-up go on
    assert reasons[Cell("proj", "b", "cold")] is None
    assert reasons[Cell("proj", "c", "cold")] == CONVERGED  # third: its figure is known
    apart = {**totals, **cells("b", cold=within_3_percent(13.0))}
    reasons = expected_stop_reasons(apart, rounds=5, weights=weights)
    assert reasons[Cell("proj", "a", "cold")] == CONVERGED  # settled: convergence stops it


def test_the_leaders_and_the_baseline_are_the_cells_a_round_runs_first():
    weights = {name: {"warm": 0.9, "cold": 0.1} for name in "abcd"}
    totals = {
        **cells("a", warm=[3.0], cold=[10.0]),
        **cells("b", warm=[3.2], cold=[11.0]),
        **cells("c", warm=[5.0], cold=[9.0]),
        **cells("d", warm=[6.0], cold=[]),  # not measured in every state yet
    }
    assert leading_candidates(totals, weights) == {("proj", "a"), ("proj", "b")}
    with_baseline = {("proj", "a"), ("proj", "b"), ("proj", "d")}
    assert leading_candidates(totals, weights, keep="d") == with_baseline


def _normal_pair(n, spread, gap, rng):
    first = [rng.gauss(10.0, 10.0 * spread) for _ in range(n)]
    second = [rng.gauss(10.0 * (1 + gap), 10.0 * spread) for _ in range(n)]
    return (first, second) if statistics.median(first) <= statistics.median(second) else (
        second, first)  # fmt: skip


def _told_apart_share(n, spread, gap, sims=40, seed=7):
    rng = random.Random(seed)
    pairs = [_normal_pair(n, spread, gap, rng) for _ in range(sims)]
    return sum(relation(a, b, seed=i) != UNSURE for i, (a, b) in enumerate(pairs)) / sims


def test_the_trials_estimated_to_tell_two_cells_apart_do_tell_them_apart():
    rng = random.Random(3)
    for spread, gap in ((0.03, 0.0), (0.05, 0.10), (0.02, 0.02)):
        # the estimate from what a long run would show of the two cells ...
        needed = trials_to_tell_apart(*_normal_pair(400, spread, gap, rng))
        assert needed is not None and 3 < needed < 60, (spread, gap, needed)
        # ... is within a factor of two of the count that tells them apart 4 times in 5
        assert _told_apart_share(2 * needed, spread, gap) >= 0.8, (spread, gap, needed)
        assert _told_apart_share(max(3, needed // 2), spread, gap) < 0.8, (spread, gap, needed)


def test_telling_apart_costs_more_with_spread_and_with_a_gap_near_half_the_tie_band():
    rng = random.Random(5)
    base = trials_to_tell_apart(*_normal_pair(400, 0.03, 0.0, rng))
    wider = trials_to_tell_apart(*_normal_pair(400, 0.06, 0.0, rng))
    awkward = trials_to_tell_apart(*_normal_pair(400, 0.03, 0.025, rng))
    clear = trials_to_tell_apart(*_normal_pair(400, 0.03, 0.20, rng))
    assert base and wider and awkward and clear
    assert 3 * base <= wider <= 5 * base  # twice the spread, about four times the trials
    assert awkward > 2 * base and clear == 3
    assert trials_to_tell_apart([1.0, 1.1], [2.0, 2.1, 2.2]) is None  # too few to estimate


def test_an_unsettled_podium_says_what_each_unsure_cell_needs():
    rng = random.Random(9)
    a, b = _normal_pair(5, 0.03, 0.02, rng)  # a near tie: not yet told apart
    c = [20.0, 20.1, 19.9, 20.2, 19.8]  # far behind: faster than, nothing needed
    totals = {A: a, B: b, C: c}
    needed = trials_to_settle(totals)
    assert set(needed) == {A, B} and needed[A] == needed[B] > 5

"""From measured times and predicted hit rates to an answer: which strategy, and what it saves.

A candidate's expected time per run is ``exact * median(warm) + partial * median(partial) +
miss * median(cold)``, the rates from replaying the repository's history through its keys
(``spec/history-replay.md``). Its uncertainty comes from the trials: each bootstrap draw
resamples every state's trials, takes their medians and combines them with the same rates, so
two candidates are compared draw by draw. The winner is the lowest expected time; it beats the
runner-up only when the 95 % interval of their ratio leaves out 1; they tie when it lies
within ±5 % (``bench.stopping.TIE``), and are otherwise not yet told apart.
A candidate with a state that has fewer than three successful trials has no interval, and no
comparison that needs one is made.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

from bench.history.expected import STATE_OF
from bench.history.expected import expected_draws as history_draws
from bench.stats import BOOTSTRAP_RESAMPLES, MIN_TRIALS, Interval
from bench.stopping import TIE


@dataclass(frozen=True)
class Rates:
    exact: float
    partial: float
    miss: float

    def weights(self) -> dict[str, float]:
        return {"warm": self.exact, "partial": self.partial, "cold": self.miss}


@dataclass(frozen=True)
class CandidateTimes:
    """A candidate's successful trial totals (seconds) per cache state, and its hit rates."""

    name: str
    totals: dict[str, list[float]]  # state -> seconds
    rates: Rates

    def needed_states(self) -> list[str]:
        return [state for state, weight in self.rates.weights().items() if weight > 0]

    def missing_states(self) -> list[str]:
        return [state for state in self.needed_states() if not self.totals.get(state)]

    def enough_trials(self) -> bool:
        return all(len(self.totals.get(s, [])) >= MIN_TRIALS for s in self.needed_states())

    def expected(self) -> float:
        weights = self.rates.weights()
        return sum(weights[s] * statistics.median(self.totals[s]) for s in self.needed_states())


@dataclass(frozen=True)
class Verdict:
    winner: str
    runner_up: str | None
    significant: bool | None  # None: not enough trials to say
    ratio: Interval | None  # runner-up's expected time over the winner's
    saving: Interval | None  # baseline's expected time minus the winner's, seconds per run

    @property
    def saving_unsure(self) -> bool:
        """The winner's saving against the baseline has an interval that includes 0."""
        return self.saving is not None and self.saving.low <= 0 < self.saving.estimate

    @property
    def tied(self) -> bool:
        """The runner-up is surely within ±``TIE`` of the winner: more trials would not help."""
        ratio = self.ratio
        return ratio is not None and ratio.low >= 1 / (1 + TIE) and ratio.high <= 1 + TIE


def expected_draws(candidate: CandidateTimes, rng: random.Random, draws: int) -> list[float]:
    rates = {"exact": candidate.rates.exact, "partial": candidate.rates.partial,
             "miss": candidate.rates.miss}  # fmt: skip
    samples = {o: candidate.totals[STATE_OF[o]] for o, rate in rates.items() if rate > 0}
    return history_draws(samples, rates, rng, draws)


def decide(candidates: list[CandidateTimes], baseline: str, seed: int = 0) -> Verdict:
    """Rank by expected time; judge the winner against the runner-up and the baseline."""
    runnable = sorted((c for c in candidates if not c.missing_states()), key=lambda c: c.expected())
    if not runnable:
        raise ValueError("no candidate has the trials its hit rates need")
    winner = runnable[0]
    runner_up = runnable[1] if len(runnable) > 1 else None
    rng = random.Random(seed)
    # Intervals only between candidates with three trials in every state they meet; one left
    # with fewer (stopped far behind, or by the budget) is ranked by its medians alone.
    draws = {
        c.name: expected_draws(c, rng, BOOTSTRAP_RESAMPLES) for c in runnable if c.enough_trials()
    }
    ratio = significant = None
    if runner_up is not None and {winner.name, runner_up.name} <= draws.keys():
        ratio = _interval(
            runner_up.expected() / winner.expected(),
            [u / w for u, w in zip(draws[runner_up.name], draws[winner.name], strict=True)],
        )
        significant = ratio.low > 1.0
    saving = None
    base = next((c for c in runnable if c.name == baseline), None)
    if base is not None and {base.name, winner.name} <= draws.keys():
        saving = _interval(
            base.expected() - winner.expected(),
            [b - w for b, w in zip(draws[base.name], draws[winner.name], strict=True)],
        )
    return Verdict(winner.name, runner_up.name if runner_up else None, significant, ratio, saving)


def _interval(estimate: float, draws: list[float]) -> Interval:
    ordered = sorted(draws)
    low = ordered[int(0.025 * (len(ordered) - 1))]
    high = ordered[int(0.975 * (len(ordered) - 1))]
    return Interval(estimate, low, high)

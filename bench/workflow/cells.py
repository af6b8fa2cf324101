"""Choosing the cell a job runs in: its matrix's cells, the ones that run on Linux, the
Pythons they ask for, and the log lines for the job keys set aside when a job runs alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.errors import BenchError
from bench.workflow import matrix as matrices
from bench.workflow.expressions import ExpressionError, interpolate
from bench.workflow.interpreters import choose_interpreter, uv_python_choice
from bench.workflow.model import Step
from bench.workflow.nodeversions import machine_node, satisfies
from bench.workflow.nodeversions import stand_in_words as node_stand_in_words
from bench.workflow.registry import STAND_INS, ActionSpec
from bench.workflow.steps import statically_false


def static_if_contexts(contexts: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """What an ``if:`` may be judged on before the job runs (see ``statically_false``)."""
    return {k: contexts[k] for k in ("github", "inputs")} | {
        "matrix": cell,
        "runner": {"os": "Linux", "arch": "X64", "environment": "github-hosted"},
    }


def input_defaults(document: dict) -> dict[str, Any]:
    """A called or dispatched workflow's inputs, at their defaults."""
    triggers = document.get("on")
    defaults: dict[str, Any] = {}
    if isinstance(triggers, dict):
        for trigger in ("workflow_call", "workflow_dispatch"):
            spec = triggers.get(trigger)
            inputs = spec.get("inputs") if isinstance(spec, dict) else None
            for name, item in (inputs or {}).items():
                if isinstance(item, dict) and "default" in item:
                    defaults.setdefault(str(name), item["default"])
    return defaults


def linux_cells(
    raw: dict,
    contexts: dict[str, Any],
    wanted: Mapping[str, str] | None,
    problems: list[str],
) -> tuple[int, list[tuple[dict[str, Any], str]], list[str]]:
    """The number of cells, the candidate cells that run on Linux (with their evaluated
    ``runs-on``) in order, and the reasons the others do not."""
    strategy = raw.get("strategy")
    raw_matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    try:
        cells = matrices.expand(raw_matrix, contexts)
    except matrices.MatrixError as error:
        if wanted:  # a matrix made by another job: the user names the cell
            cells = [dict(wanted)]
        else:
            problems.append(str(error))
            return 0, [], []
    candidates = matrices.choose(cells, wanted) if wanted else cells
    if wanted and not candidates:
        shown = "; ".join(_cell_text(c) for c in cells[:6]) + ("; …" if len(cells) > 6 else "")
        choice = ", ".join(f"{k}={v}" for k, v in wanted.items())
        problems.append(f"no matrix cell has {choice} (cells: {shown})")
        return len(cells), [], []
    if "runs-on" not in raw:
        return len(cells), [(c, "") for c in candidates], []  # reported after the steps
    linux: list[tuple[dict[str, Any], str]] = []
    refusals: dict[str, list[dict[str, Any]]] = {}  # reason: the cells it refuses
    for cell in candidates:
        try:
            runs_on = matrices.evaluate_value(raw["runs-on"], contexts | {"matrix": cell})
        except matrices.MatrixError as error:
            refusals.setdefault(f"runs-on: {error}", []).append(cell)
            continue
        if runs_on is None or runs_on == "":
            reason = (
                f"runs-on {raw['runs-on']} cannot be known here (it depends on an input "
                "without a default or on another job)"
            )
            refusals.setdefault(reason, []).append(cell)
            continue
        refused = matrices.runs_on_problem(runs_on)
        if refused is None:
            linux.append((cell, str(runs_on)))
        else:
            refusals.setdefault(refused, []).append(cell)
    lines = []
    for reason, refused_cells in refusals.items():  # each distinct reason once, in order
        if len(refused_cells) == 1 and refused_cells[0]:
            reason += f" (cell {_cell_text(refused_cells[0])})"
        elif len(refused_cells) > 1:
            reason += f" ({len(refused_cells)} cells)"
        lines.append(reason)
    return len(cells), linux, lines


def interpreter_problems(
    steps: list[Step], contexts: dict[str, Any], static: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Python versions that setup-python or setup-uv ask for and this machine does not have
    (problems), and those the machine's newest stands in for (notes: newer than any here; and
    setup-node's versions the machine's node stands in for)."""
    problems, notes = [], []
    for step in steps:
        if step.action is None or statically_false(step.if_, static):
            continue
        if step.action.name == "actions/setup-node":
            notes += [f"step {step.index}: {n}" for n in node_notes(step, contexts)]
            continue
        if step.action.name not in ("actions/setup-python", "astral-sh/setup-uv"):
            continue
        try:
            text = interpolate(step.with_.get("python-version", ""), contexts, {})
        except ExpressionError:
            continue  # known only when the job runs
        strict = step.action.name == "astral-sh/setup-uv"  # uv needs the very version
        for spec in [line.strip() for line in text.splitlines() if line.strip()]:
            try:
                choice = uv_python_choice(spec) if strict else choose_interpreter(spec)
            except BenchError as error:
                problems.append(f"step {step.index}: {error}")
                continue
            if choice is not None and choice.stood_in:
                notes.append(f"step {step.index}: {choice.stood_in}")
    return problems, notes


def node_notes(step: Step, contexts: dict[str, Any]) -> list[str]:
    """setup-node's ``node-version`` when the machine's node does not satisfy it (it stands
    in); a version file is read only when the job runs."""
    try:
        spec = interpolate(step.with_.get("node-version", ""), contexts, {}).strip()
    except ExpressionError:
        return []
    found = machine_node()
    if not spec or found is None or satisfies(found[1], spec):
        return []
    return [node_stand_in_words(spec, found[1])]


def stand_in_notes(steps: list[Step] | tuple[Step, ...], static: dict[str, Any]) -> list[str]:
    """One line per step (composite actions' included) that a stand-in replaces."""
    notes = []
    for step in steps:
        if statically_false(step.if_, static):
            continue
        if step.composite is not None:
            inner = stand_in_notes(step.composite.steps, static)
            notes += [f"step {step.index} → {step.uses} {line}" for line in inner]
        elif step.action is not None:
            spec = STAND_INS.get(step.action.name) or _stand_in_casefold(step.action.name)
            if spec is not None:
                why = spec.stand_in
                notes.append(f"step {step.index}: {step.action.written} stood in for ({why})")
            elif step.action.name.casefold() in NETWORK_NOTES:
                why = NETWORK_NOTES[step.action.name.casefold()]
                notes.append(f"step {step.index}: {step.action.written} {why}")
    return notes


# Actions that run here but reach past the mirror for some of what they do.
NETWORK_NOTES = {
    "pre-commit/action": "runs, but hooks from remote repositories need the network: only "
    "`repo: local` hooks (and ones already cached) succeed here",
}


def _stand_in_casefold(name: str) -> ActionSpec | None:
    key = name.casefold()
    return next((spec for n, spec in STAND_INS.items() if n.casefold() == key), None)


def _cell_text(cell: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items()) or "(empty)"


def set_aside_lines(raw: dict, cells: int, cell: dict[str, Any], runs_on: str) -> list[str]:
    """Log lines for the job keys accepted but not acted on when the job runs alone."""
    lines: list[str] = []
    note = matrices.third_party_note(runs_on)
    if note:
        lines.append(note)
    needs = raw.get("needs")
    if needs:
        names = needs if isinstance(needs, list) else [needs]
        lines.append(f"needs: {', '.join(map(str, names))} — run alone")
    if "if" in raw:
        lines.append(f"if: {raw['if']} — not evaluated, the job runs alone")
    if raw.get("outputs"):
        lines.append(f"outputs: {', '.join(map(str, raw['outputs']))} — no later job reads them")
    if "environment" in raw:
        environment = raw["environment"]
        if isinstance(environment, dict):
            environment = environment.get("name", "")
        lines.append(f"environment: {environment} — no deployment rules or secrets here")
    for key, why in (
        ("concurrency", "one trial runs at a time"),
        ("permissions", "no token here"),
        ("timeout-minutes", "not enforced"),
        ("continue-on-error", "the trial records the job's outcome"),
    ):
        if key in raw:
            lines.append(f"{key}: {raw[key]} — {why}")
    strategy = raw.get("strategy")
    if isinstance(strategy, dict):
        for key in ("fail-fast", "max-parallel"):
            if key in strategy:
                lines.append(f"strategy.{key}: {strategy[key]} — one cell runs")
    if cells > 1 or cell:
        label = ", ".join(f"{k}={v}" for k, v in cell.items())
        lines.append(f"matrix: runs the cell {label} (one of {cells})")
    return lines

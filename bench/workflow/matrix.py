"""``strategy.matrix``: its cells (lists, ``include``, ``exclude``, expressions) and ``runs-on``.

Cells follow GitHub's rules: the product of the keys' lists in the order written, minus every
cell an ``exclude`` entry matches, then each ``include`` entry is added to every cell whose
original values it does not change, or becomes a cell of its own when it fits none.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from bench.workflow import expressions as expr

Cell = dict[str, Any]


class MatrixError(Exception):
    """A matrix the harness cannot expand (one line, for the blocker list)."""


def static_contexts(
    env: Mapping[str, str] | None = None, inputs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The contexts a matrix or ``runs-on`` may use before any step runs."""
    return {
        "github": {
            "event_name": "push",
            "ref": "refs/heads/main",
            "ref_name": "main",
            "repository": "bench/repo",
            "event": {},
            "repository_owner": "bench",
        },
        "env": dict(env or {}),
        "vars": {},
        "inputs": dict(inputs or {}),
        "secrets": {},
    }


def evaluate_value(value: Any, contexts: Mapping[str, Any]) -> Any:
    """A YAML value that may be a ``${{ }}`` expression: a lone one keeps its type."""
    if isinstance(value, str):
        pieces = expr.split_template(value)
        if len(pieces) == 1 and pieces[0][0]:
            try:
                return expr.evaluate(pieces[0][1], contexts, {})
            except expr.ExpressionError as error:
                raise MatrixError(_explain(pieces[0][1], error)) from None
        if any(is_expression for is_expression, _ in pieces):
            try:
                return expr.interpolate(value, contexts, {})
            except expr.ExpressionError as error:
                raise MatrixError(_explain(value, error)) from None
    return value


def _explain(text: str, error: Exception) -> str:
    if "needs" in str(error).casefold() or "needs." in text:
        return f"matrix from another job's outputs ({text}): give the cell with --matrix"
    if "inputs." in text.casefold():
        return f"matrix from an input of the called workflow ({text}): give the cell with --matrix"
    return f"matrix expression {text!r}: {error}"


def expand(matrix: Any, contexts: Mapping[str, Any]) -> list[Cell]:
    """Every cell of ``matrix``, in GitHub's order; ``[{}]`` for no matrix."""
    if matrix is None:
        return [{}]
    matrix = evaluate_value(matrix, contexts)
    if not isinstance(matrix, Mapping):
        raise MatrixError("strategy.matrix must be a mapping")
    lists: dict[str, list[Any]] = {}
    for key, values in matrix.items():
        if key in ("include", "exclude"):
            continue
        values = evaluate_value(values, contexts)
        if not isinstance(values, list):
            raise MatrixError(f"matrix key {key!r} must be a list")
        lists[str(key)] = [evaluate_value(v, contexts) for v in values]
    include = _entries(matrix.get("include"), "include", contexts)
    exclude = _entries(matrix.get("exclude"), "exclude", contexts)
    cells: list[Cell] = []
    if lists and all(lists.values()):
        cells = [
            dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())
        ]
    cells = [c for c in cells if not any(_matches(c, e) for e in exclude)]
    originals = [dict(c) for c in cells]  # an include entry joins only these, never added ones
    for entry in include:
        added = False
        for cell, original in zip(cells, originals, strict=False):
            if all(k not in original or _same(original[k], v) for k, v in entry.items()):
                cell.update(entry)
                added = True
        if not added:
            cells.append(dict(entry))
    if not cells:
        raise MatrixError("the matrix has no cell")
    return cells


def _entries(value: Any, name: str, contexts: Mapping[str, Any]) -> list[Cell]:
    value = evaluate_value(value, contexts)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise MatrixError(f"strategy.matrix.{name} must be a list of mappings")
    return [{str(k): evaluate_value(v, contexts) for k, v in e.items()} for e in value]


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold())


def _matches(cell: Cell, entry: Cell) -> bool:
    return all(
        k in cell
        and (_matches(cell[k], v) if isinstance(v, Mapping) and isinstance(cell[k], Mapping)
             else _same(cell[k], v))
        for k, v in entry.items()
    )  # fmt: skip


def choose(cells: list[Cell], wanted: Mapping[str, str]) -> list[Cell]:
    """The cells whose values, as text, are the ``--matrix key=value`` choices."""
    return [
        cell for cell in cells if all(k in cell and _text(cell[k]) == v for k, v in wanted.items())
    ]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return expr.to_string(value)


def runs_on_problem(value: Any) -> str | None:
    """Why a job with this (evaluated) ``runs-on`` cannot run here; ``None`` when it can."""
    if isinstance(value, Mapping):
        return f"runs-on a runner group ({dict(value)}): the harness stands for GitHub-hosted Linux"
    labels = value if isinstance(value, list) else [value]
    labels = [str(label).strip() for label in labels]
    if not labels or not labels[0]:
        return "runs-on is empty"
    lowered = [label.casefold() for label in labels]
    if "self-hosted" in lowered:
        return f"runs-on {', '.join(labels)}: a self-hosted runner"
    for label in lowered:
        if label.startswith("windows"):
            return f"runs-on {label}: the harness runs Linux jobs only (not Windows)"
        if label.startswith("macos"):
            return f"runs-on {label}: the harness runs Linux jobs only (not macOS)"
    if len(labels) != 1 or "ubuntu" not in lowered[0]:
        return f"runs-on {', '.join(labels)}: not a GitHub-hosted Linux label (ubuntu-*)"
    if "arm" in lowered[0].split("-"):
        return f"runs-on {labels[0]}: an arm64 runner (this machine is x86-64)"
    return None


def third_party_note(runs_on: str) -> str | None:
    """A log line for an Ubuntu label of another provider (``blacksmith-4vcpu-ubuntu-2404``)."""
    if runs_on and not runs_on.casefold().startswith("ubuntu-"):
        return f"runs-on: {runs_on} — another provider's Ubuntu runner, run as a GitHub-hosted one"
    return None

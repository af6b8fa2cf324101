"""The rooms import one way: no room of bench/ imports a room that imports it back."""

from __future__ import annotations

import collections
import re

from tests.helpers import PROJECT

IMPORT = re.compile(r"^\s*(?:from|import) (bench(?:\.\w+)+)", re.MULTILINE)


def room(module: str) -> str:
    """bench.history.replay -> history; bench.plan -> plan."""
    return module.split(".")[1]


def test_no_two_rooms_import_each_other():
    imports: dict[str, set[str]] = collections.defaultdict(set)
    files = list((PROJECT / "bench").rglob("*.py"))
    assert len(files) > 50
    for path in files:
        here = room(".".join(path.relative_to(PROJECT).with_suffix("").parts) + ".x")
        for found in IMPORT.finditer(path.read_text()):
            there = room(found.group(1))
            if there != here:
                imports[here].add(there)
    pairs = {(a, b) for a, targets in imports.items() for b in targets}
    assert sorted((a, b) for a, b in pairs if (b, a) in pairs) == []

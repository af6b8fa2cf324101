"""Dependency sets: a folder a scenario checks out as its repository, and its previous revision.

A set is ``requirements.txt`` (every package pinned with hashes, transitive ones included),
optionally the poetry and pipenv projects derived from it (``pyproject.toml`` + ``poetry.lock``,
``Pipfile`` + ``Pipfile.lock``), a ``tests/`` folder, and ``previous/``: the set one step back
in history (one package a release older, one package fewer), for the partial cache state.
``previous/`` holds only what differs: files that replace the current ones, and
``removed.txt`` naming files the older revision did not have yet.

A user's folder (``run --deps DIR``) may keep its dependencies in any form ``bench.intake``
reads (lock files, plain or ranged requirement files, ``pyproject.toml``); it is resolved into
pins before the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

DEPS_ROOT = Path(__file__).resolve().parents[1] / "scenarios" / "deps"
REMOVED_LIST = "removed.txt"
PREVIOUS_DIR = "previous"  # a set's previous revision: the files that differ, as an overlay
DEPENDENCY_FILES = ("pyproject.toml", "uv.lock", "poetry.lock", "Pipfile.lock", "setup.py")


@dataclass(frozen=True)
class Revision:
    """What ``actions/checkout`` puts in the workspace: layers copied in order, then removals."""

    layers: tuple[Path, ...]
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class DependencySet:
    name: str
    path: Path
    previous: Path | None

    def has(self, filename: str) -> bool:
        """The set carries ``filename`` (a scenario needing it can run on this set)."""
        return (self.path / filename).is_file()

    def revision(self, previous: bool = False) -> Revision:
        if not previous:
            return Revision((self.path,))
        if self.previous is None:
            raise BenchError(f"dependency set {self.path} has no previous/ revision")
        removed_file = self.previous / REMOVED_LIST
        removed = removed_file.read_text().split() if removed_file.is_file() else []
        return Revision((self.path, self.previous), tuple(removed))


def load_set(name_or_dir: str, root: Path = DEPS_ROOT) -> DependencySet:
    """A shipped set by name, or a user's folder by path."""
    candidate = Path(name_or_dir)
    path = candidate if candidate.is_dir() and ("/" in name_or_dir or name_or_dir == ".") else None
    if path is None:
        path = root / name_or_dir
        if not path.is_dir():
            known = ", ".join(shipped_sets(root)) or "none"
            raise BenchError(
                f"no dependency set {name_or_dir!r}; give one of {known}, or a folder's path"
            )
    path = path.resolve()
    if not any(path.glob("requirements*.txt")) and not any(
        (path / name).is_file() for name in DEPENDENCY_FILES
    ):
        raise BenchError(
            f"dependency set {path} has no dependency file; add requirements.txt, "
            "pyproject.toml, uv.lock, poetry.lock or Pipfile.lock"
        )
    previous = path / PREVIOUS_DIR
    return DependencySet(
        name=path.name, path=path, previous=previous if previous.is_dir() else None
    )


def shipped_sets(root: Path = DEPS_ROOT) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "requirements.txt").is_file())

"""A user's git repository as a dependency set: its tracked files at HEAD, and its past.

The workspace a job sees on GitHub is the commit, not a working tree: untracked and ignored
files are not there, so ``hashFiles`` sees only what git stores. The set's previous revision
(the partial cache state) is the commit just before the dependency files last changed, read
from git; it is written as an overlay (``previous/``: the files that differ from HEAD, with
``removed.txt``), as the shipped sets keep theirs.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bench.depsets import PREVIOUS_DIR, REMOVED_LIST
from bench.errors import BenchError
from bench.gitrun import git

# What a dependency file is, for finding the commit where the dependencies last changed.
DEPENDENCY_PATTERNS = (
    "*requirements*.txt", "*requirements*.in", "*constraints*.txt", "requirements/*.txt",
    "pyproject.toml", "uv.lock", "poetry.lock", "Pipfile", "Pipfile.lock", "setup.py",
    "setup.cfg",
)  # fmt: skip


@dataclass(frozen=True)
class RepositorySet:
    folder: Path  # the tracked files at HEAD, with previous/ beside them when there is a past
    head: str
    previous_commit: str | None  # the commit previous/ reproduces (over HEAD's files)


def export_repository(repo: Path, dest: Path) -> RepositorySet:
    """Write ``repo``'s tracked files at HEAD to ``dest`` and its previous revision as overlay."""
    head = _git(repo, "rev-parse", "--verify", "HEAD^{commit}").strip()
    dest.mkdir(parents=True, exist_ok=True)
    archive = _git_bytes(repo, "archive", "--format=tar", head)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    previous = previous_dependency_commit(repo, head)
    if previous is not None:
        write_overlay(repo, head, previous, dest / PREVIOUS_DIR)
    return RepositorySet(dest, head, previous)


def previous_dependency_commit(repo: Path, head: str) -> str | None:
    """The commit just before the dependency files last changed (first-parent), if any."""
    changed = _git(
        repo, "log", "--first-parent", "--format=%H", "-n", "1", head, "--",
        *(f":(glob)**/{pattern}" for pattern in DEPENDENCY_PATTERNS),
    ).split()  # fmt: skip
    if not changed:
        return None
    parents = _git(repo, "rev-list", "--parents", "-n", "1", changed[0]).split()[1:]
    return parents[0] if parents else None


def write_overlay(repo: Path, head: str, previous: str, overlay: Path) -> None:
    """The files that differ at ``previous`` (all of them, not only the dependency files: its
    tests must run against its dependencies for the priming run to succeed and save), and the
    ones it did not have yet in ``removed.txt``. Symbolic links and submodules are left as
    they are at HEAD."""
    overlay.mkdir(parents=True, exist_ok=True)
    now = _tracked_files(repo, head)
    then = _tracked_files(repo, previous)
    for path, (mode, blob) in then.items():
        if now.get(path) == (mode, blob) or mode not in _REGULAR_MODES:
            continue
        target = overlay / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git_bytes(repo, "cat-file", "blob", blob))
        target.chmod(0o755 if mode == "100755" else 0o644)
    removed = sorted(set(now) - set(then))
    if removed:
        (overlay / REMOVED_LIST).write_text("\n".join(removed) + "\n")


_REGULAR_MODES = ("100644", "100755")


def _tracked_files(repo: Path, commit: str) -> dict[str, tuple[str, str]]:
    """Path to (mode, blob id) of every file in ``commit``'s tree."""
    listing = _git(
        repo, "ls-tree", "-r", "-z", "--format=%(objectmode) %(objectname) %(path)", commit
    )
    files = {}
    for line in filter(None, listing.split("\0")):
        mode, blob, path = line.split(" ", 2)
        files[path] = (mode, blob)
    return files


def _git(repo: Path, *args: str) -> str:
    return _git_bytes(repo, *args).decode()


def _git_bytes(repo: Path, *args: str) -> bytes:
    result = git(repo, *args, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise BenchError(f"{repo}: git {args[0]} failed: {message[-1] if message else '?'}")
    return result.stdout

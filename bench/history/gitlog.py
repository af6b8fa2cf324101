"""A repository's first-parent runs, read through git alone (never the work tree).

One ``git log --first-parent --raw`` gives every run (commit, committer time) and the paths each
commit changed against its first parent; ``git ls-tree -r`` gives the first run's tree, and the
later trees are that one with each commit's changes applied. Blob contents come from one
long-lived ``git cat-file --batch``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.errors import BenchError
from bench.gitrun import git, git_environment

ZERO_OID = "0" * 40
_RECORD = "\x01"


@dataclass(frozen=True)
class Change:
    path: str
    mode: str  # the new mode ("000000" when the path was deleted)
    oid: str  # the new blob id (zeros when deleted)


@dataclass(frozen=True)
class Run:
    """One push to the branch: a first-parent commit at its committer time."""

    commit: str
    time: int  # committer time, seconds since the epoch
    changes: tuple[Change, ...] = ()
    parents: tuple[str, ...] = ()


@dataclass
class History:
    repo: Path
    branch: str
    runs: list[Run]
    shallow: bool = False
    warnings: list[str] = field(default_factory=list)


def open_repository(repo: Path) -> Path:
    """The repository's top (or git dir for a bare one); a BenchError when it is not one."""
    if not repo.exists():
        raise BenchError(f"{repo} does not exist; give the path of a git repository")
    result = git(repo, "rev-parse", "--git-dir", check=False)
    if result.returncode != 0:
        raise BenchError(f"{repo} is not a git repository; give a clone (--no-checkout is enough)")
    return repo


def current_branch(repo: Path) -> str:
    result = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if result.returncode == 0:
        return result.stdout.decode().strip()
    return "HEAD"  # detached: replay what is checked out


def read_history(repo: Path, branch: str | None = None, since: str | None = None) -> History:
    """Every first-parent run of ``branch`` (oldest first), with the paths each one changed."""
    open_repository(repo)
    branch = branch or current_branch(repo)
    resolved = git(repo, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}", check=False)
    if resolved.returncode != 0:
        raise BenchError(
            f"no branch or commit {branch!r} in {repo}; pass --branch with one that exists"
        )
    runs = log_runs(repo, branch, since)
    if not runs:
        after = f" since {since}" if since else ""
        raise BenchError(f"{branch!r} has no commits{after}; pick another --branch or --since")
    history = History(repo=repo, branch=branch, runs=runs)
    shallow = git(repo, "rev-parse", "--is-shallow-repository", check=False)
    if shallow.stdout.decode().strip() == "true":
        history.shallow = True
        oldest = datetime.fromtimestamp(runs[0].time, UTC).strftime("%Y-%m-%d")
        history.warnings.append(
            f"shallow clone: the history reaches back only to {oldest} ({len(runs)} runs); "
            "fetch more (git fetch --unshallow) to replay it all"
        )
    return history


def log_runs(repo: Path, revisions: str, since: str | None = None) -> list[Run]:
    """``git log --first-parent`` of ``revisions``, oldest first, with each commit's changes."""
    args = [
        "log",
        "--first-parent",
        "--reverse",
        "--raw",
        "--no-renames",
        "--no-abbrev",
        "-z",
        "--diff-merges=first-parent",
        f"--format={_RECORD}%H %ct %P",
    ]
    if since:
        args.append(f"--since={since}")
    result = git(repo, *args, revisions, "--", check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise BenchError(f"git log failed on {revisions!r}: {message[-1] if message else '?'}")
    return list(parse_log(result.stdout))


def merge_base(repo: Path, a: str, b: str) -> str | None:
    result = git(repo, "merge-base", a, b, check=False)
    return result.stdout.decode().strip() or None


def parse_log(output: bytes) -> Iterator[Run]:
    """Runs from ``git log --raw -z --format=<\\x01>%H %ct %P`` output."""
    text = output.decode("utf-8", errors="surrogateescape")
    for chunk in text.split(_RECORD):
        if not chunk:
            continue
        header, _, rest = chunk.partition("\0")
        commit, stamp, *parents = header.strip().split(" ")
        fields = rest.lstrip("\n").split("\0")
        changes = []
        for i in range(0, len(fields) - 1, 2):
            meta, path = fields[i], fields[i + 1]
            if not meta.startswith(":"):
                continue
            parts = meta[1:].split()
            if len(parts) < 5:
                continue
            changes.append(Change(path=path, mode=parts[1], oid=parts[3]))
        yield Run(commit=commit, time=int(stamp), changes=tuple(changes), parents=tuple(parents))


@dataclass(frozen=True)
class Entry:
    mode: str  # 100644, 100755, 120000 (symbolic link), 160000 (submodule)
    oid: str


def read_tree(repo: Path, commit: str) -> dict[str, Entry]:
    """Every file of ``commit``'s tree, path -> (mode, blob id), as git stores it."""
    result = git(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
    tree: dict[str, Entry] = {}
    text = result.stdout.decode("utf-8", errors="surrogateescape")
    for item in text.split("\0"):
        if not item:
            continue
        meta, _, path = item.partition("\t")
        mode, _kind, oid = meta.split()
        tree[path] = Entry(mode, oid)
    return tree


def apply_changes(tree: dict[str, Entry], changes: tuple[Change, ...]) -> None:
    for change in changes:
        if change.oid == ZERO_OID or change.mode == "000000":
            tree.pop(change.path, None)
        else:
            tree[change.path] = Entry(change.mode, change.oid)


class BlobReader:
    """Blob contents by id, through one ``git cat-file --batch`` process."""

    def __init__(self, repo: Path) -> None:
        self._process = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=git_environment(),
        )

    def read(self, oid: str) -> bytes:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(oid.encode() + b"\n")
        self._process.stdin.flush()
        header = self._process.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            raise BenchError(f"blob {oid} is missing from the repository (a partial clone?)")
        size = int(header[2])
        data = self._process.stdout.read(size)
        self._process.stdout.read(1)  # the newline after the contents
        return data

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

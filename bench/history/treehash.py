"""``hashFiles()`` over a commit's tree as git stores it, never a work tree.

The matching is ``bench.ghcache.glob``'s own (the same pattern parsing, implicit descendants,
search paths and per-segment matching), applied to the tree's paths under a virtual workspace.
The runner's walk is depth first with each directory's entries in raw byte order; that is the
order of the paths sorted by their tuples of segment bytes, so the files are sorted that way,
search path by search path. Digests are cached by blob id, and a result is kept until a commit
changes a path the patterns match.

Symbolic links (mode 120000) point inside the tree or nowhere we can see: a link to a file
hashes that file's content, a link to a directory is skipped, and any other link is broken (an
error without following links, skipped with it). Submodules are empty folders in a checkout.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from bench.ghcache.glob import (
    MATCH_FILE,
    InvalidPattern,
    Pattern,
    make_pattern,
    match_all,
    parse_pattern_lines,
    search_paths,
    with_implicit_descendants,
)
from bench.ghcache.hashfiles import FOLLOW_FLAG, HashFilesError
from bench.history.gitlog import Change, Entry

WORKSPACE = "/home/runner/work/repo/repo"
HOME = "/home/runner"
SYMLINK = "120000"
SUBMODULE = "160000"


@dataclass
class _Memo:
    """One hashFiles call's compiled patterns, which paths they match, and its last value."""

    patterns: list[Pattern]
    roots: list[str]
    relevant: dict[str, bool]  # path -> whether the patterns match it as a file
    value: str | None = None  # None: a change made it stale
    has_links: bool = False
    generation: int = 0  # bumped each time the value is computed again


class TreeHasher:
    """hashFiles over a tree that advances commit by commit (``advance``)."""

    def __init__(self, tree: dict[str, Entry], read_blob: Callable[[str], bytes]) -> None:
        self.tree = tree
        self._read_blob = read_blob
        self._digests: dict[str, bytes] = {}
        self._memo: dict[tuple[bool, tuple[str, ...]], _Memo] = {}
        self._sort_keys: dict[str, tuple[bytes, ...]] = {}
        self.computed = 0  # how many times a hash was really computed (for tests and speed)
        self._path_versions: dict[str, int] = {}

    def advance(self, changes: tuple[Change, ...]) -> None:
        """Apply one commit's changes; forget results that depended on a changed path."""
        if not changes:
            return
        for change in changes:
            self._path_versions[change.path] = self._path_versions.get(change.path, 0) + 1
            if change.mode == "000000":
                self.tree.pop(change.path, None)
            else:
                self.tree[change.path] = Entry(change.mode, change.oid)
        for memo in self._memo.values():
            if memo.value is not None and (
                memo.has_links or any(self._relevant(memo, c.path) for c in changes)
            ):
                memo.value = None

    def _relevant(self, memo: _Memo, path: str) -> bool:
        known = memo.relevant.get(path)
        if known is None:
            known = bool(match_all(memo.patterns, f"{WORKSPACE}/{path}") & MATCH_FILE)
            memo.relevant[path] = known
        return known

    def read_text(self, path: str) -> str | None:
        entry = self.tree.get(path)
        if entry is None or entry.mode in (SYMLINK, SUBMODULE):
            return None
        return self._read_blob(entry.oid).decode(errors="replace")

    def hash_files(self, *arguments: str, follow_symbolic_links: bool = False) -> str:
        args = [str(a) for a in arguments]
        if args and args[0] == FOLLOW_FLAG:
            follow_symbolic_links = True
            args = args[1:]
        key = (follow_symbolic_links, tuple(args))
        memo = self._memo.get(key)
        if memo is None:
            memo = self._compile(args)
            self._memo[key] = memo
        if memo.value is None:
            memo.value = self._compute(memo, args, follow_symbolic_links)
            memo.generation += 1
        return memo.value

    def stamp(self, *arguments: str, follow_symbolic_links: bool = False) -> tuple[int, bool]:
        """Which computation of a call's value is current, and whether it still holds."""
        args = [str(a) for a in arguments]
        if args and args[0] == FOLLOW_FLAG:
            follow_symbolic_links = True
            args = args[1:]
        memo = self._memo.get((follow_symbolic_links, tuple(args)))
        if memo is None:
            return (0, False)
        return (memo.generation, memo.value is not None)

    def path_version(self, path: str) -> int:
        """How many commits so far changed ``path``."""
        return self._path_versions.get(path, 0)

    def _compile(self, args: list[str]) -> _Memo:
        lines = parse_pattern_lines("\n".join(args))
        try:
            patterns = [make_pattern(line, home=HOME, workdir=WORKSPACE) for line in lines]
        except InvalidPattern as error:
            described = ", ".join(f"'{a}'" for a in args)
            raise HashFilesError(f"hashFiles({described}) failed: {error}") from None
        patterns = with_implicit_descendants(patterns)
        return _Memo(patterns=patterns, roots=search_paths(patterns), relevant={})

    def _compute(self, memo: _Memo, args: list[str], follow: bool) -> str:
        self.computed += 1
        described = ", ".join(f"'{a}'" for a in args)
        roots = memo.roots
        memo.has_links = False
        ordered: list[tuple[int, tuple[bytes, ...], str]] = []
        for path, entry in self.tree.items():
            if entry.mode == SUBMODULE or not self._relevant(memo, path):
                continue
            root = _root_index(roots, f"{WORKSPACE}/{path}")
            if root is None:
                continue
            ordered.append((root, self._sort_key(path), path))
        ordered.sort()
        outer = hashlib.sha256()
        matched = 0
        for _root, _order, path in ordered:
            entry = self.tree[path]
            oid = entry.oid
            if entry.mode == SYMLINK:
                memo.has_links = True
                target = self._link_target(path, entry)
                if target is None:
                    if follow:
                        continue
                    raise HashFilesError(
                        f"hashFiles({described}) failed: '{path}' is a broken symbolic link "
                        "(or points outside the repository)"
                    )
                if target == "":
                    continue  # a link to a directory: not a file
                oid = target
            outer.update(self._digest(oid))
            matched += 1
        return outer.hexdigest() if matched else ""

    def _link_target(self, path: str, entry: Entry) -> str | None:
        """The blob a link resolves to, '' for a directory, None when broken or outside."""
        seen = 0
        while entry.mode == SYMLINK and seen < 40:
            target = self._read_blob(entry.oid).decode(errors="surrogateescape")
            if target.startswith("/"):
                return None
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            if joined.startswith("../") or joined == "..":
                return None
            found = self.tree.get(joined)
            if found is None:
                prefix = joined + "/"
                if joined == "." or any(p.startswith(prefix) for p in self.tree):
                    return ""
                return None
            path, entry = joined, found
            seen += 1
        return None if entry.mode == SYMLINK else entry.oid

    def _digest(self, oid: str) -> bytes:
        digest = self._digests.get(oid)
        if digest is None:
            digest = hashlib.sha256(self._read_blob(oid)).digest()
            self._digests[oid] = digest
        return digest

    def _sort_key(self, path: str) -> tuple[bytes, ...]:
        key = self._sort_keys.get(path)
        if key is None:
            key = tuple(s.encode("utf-8", errors="surrogateescape") for s in path.split("/"))
            self._sort_keys[path] = key
        return key


def _root_index(roots: list[str], path: str) -> int | None:
    for index, root in enumerate(roots):
        if root == "/" or path == root or path.startswith(root + "/"):
            return index
    return None

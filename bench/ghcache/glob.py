"""The glob engine of ``@actions/glob``, as the runner and ``actions/cache`` use it.

Both ``hashFiles()`` and the cache's path expansion go through the same matcher; they differ
only in their options (implicit descendants, following symbolic links). The behaviour here is
the one written down in ``shared/spec/actions-cache.md`` section 1:

* patterns are made absolute (``~`` is the home, ``.`` and relative paths the workspace);
* matching is per path segment, minimatch style with ``dot: true`` and no braces or extglobs;
* the walk is depth first, each directory's entries sorted by their raw name bytes, one
  search path after another.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from bench.errors import BenchError

GLOBSTAR = "**"


class InvalidPattern(BenchError):
    """A pattern the runner refuses (``..``, a ``.`` that is not first, an empty pattern)."""


class BrokenSymlink(BenchError):
    """A matched path is a symbolic link whose target does not exist."""


@dataclass(frozen=True)
class GlobOptions:
    implicit_descendants: bool = True
    follow_symbolic_links: bool = True
    match_directories: bool = True
    omit_broken_symbolic_links: bool = True


@dataclass(frozen=True)
class Pattern:
    negate: bool
    segments: tuple[str, ...]  # first segment is "/"
    trailing_separator: bool
    search_path: str
    implicit: bool = False

    def match(self, item_path: str) -> int:
        """Return a MATCH_* bit set for one absolute path."""
        parts = split_path(item_path)
        if self.segments[-1] == GLOBSTAR and not self.implicit:
            # minimatch does not match `/foo` against `/foo/**` but does `/foo/`: the runner
            # appends the slash for patterns it was given, not for implicit descendants.
            parts = [*parts, ""]
        if match_segments(parts, list(self.segments[1:]), partial=False):
            return MATCH_DIRECTORY if self.trailing_separator else MATCH_ALL
        return MATCH_NONE

    def partial_match(self, item_path: str) -> bool:
        """Whether something below ``item_path`` could match."""
        if item_path == "/":
            return self.search_path.startswith("/")
        return match_segments(split_path(item_path), list(self.segments[1:]), partial=True)


MATCH_NONE = 0
MATCH_DIRECTORY = 1
MATCH_FILE = 2
MATCH_ALL = MATCH_DIRECTORY | MATCH_FILE


def split_path(path: str) -> list[str]:
    """Segments of an absolute path, without the root and without empty segments."""
    return [part for part in path.split("/") if part]


def parse_pattern_lines(text: str) -> list[str]:
    """Split a multi-line pattern input the way ``glob.create`` does."""
    lines = [line.strip() for line in re.split(r"\r?\n", text)]
    return [line for line in lines if line and not line.startswith("#")]


def glob_escape(text: str) -> str:
    text = text.replace("\\", "\\\\")
    text = re.sub(r"(\[)(?=[^/]+\])", "[[]", text)
    return text.replace("?", "[?]").replace("*", "[*]")


def literal_of(segment: str) -> str:
    """The literal text of a segment, or '' when it holds a glob."""
    literal = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "\\" and i + 1 < len(segment):
            literal.append(segment[i + 1])
            i += 2
            continue
        if char in "*?":
            return ""
        if char == "[" and i + 1 < len(segment):
            members: list[str] = []
            closed = -1
            j = i + 1
            while j < len(segment):
                inner = segment[j]
                if inner == "\\" and j + 1 < len(segment):
                    members.append(segment[j + 1])
                    j += 2
                    continue
                if inner == "]":
                    closed = j
                    break
                members.append(inner)
                j += 1
            if closed >= 0:
                if len(members) > 1:
                    return ""
                if members:
                    literal.append(members[0])
                    i = closed + 1
                    continue
        literal.append(char)
        i += 1
    return "".join(literal)


def make_pattern(line: str, *, home: str, workdir: str) -> Pattern:
    """Build an absolute pattern from one input line (negation, ``~``, ``.``, relative)."""
    original = line
    pattern = line.strip()
    negate = False
    while pattern.startswith("!"):
        negate = not negate
        pattern = pattern[1:].strip()
    if not pattern:
        raise InvalidPattern(f"Invalid pattern '{original}'. A pattern cannot be empty.")
    literals = [literal_of(seg) for seg in split_path(pattern)]
    if any((lit == "." and index > 0) or lit == ".." for index, lit in enumerate(literals)):
        raise InvalidPattern(
            f"Invalid pattern '{pattern}'. Relative pathing '.' and '..' is not allowed."
        )
    pattern = re.sub(r"/{2,}", "/", pattern)
    if pattern == "." or pattern.startswith("./"):
        pattern = glob_escape(workdir) + pattern[1:]
    elif pattern == "~" or pattern.startswith("~/"):
        pattern = glob_escape(home) + pattern[1:]
    elif not pattern.startswith("/"):
        pattern = glob_escape(workdir).rstrip("/") + "/" + pattern
    pattern = re.sub(r"/{2,}", "/", pattern)
    trailing = pattern.endswith("/") and pattern != "/"
    segments = ("/", *split_path(pattern))
    search: list[str] = []
    for segment in segments[1:]:
        literal = literal_of(segment)
        if not literal:
            break
        search.append(literal)
    return Pattern(
        negate=negate,
        segments=segments,
        trailing_separator=trailing,
        search_path="/" + "/".join(search),
    )


def with_implicit_descendants(patterns: list[Pattern]) -> list[Pattern]:
    result: list[Pattern] = []
    for pattern in patterns:
        result.append(pattern)
        if pattern.trailing_separator or pattern.segments[-1] != GLOBSTAR:
            result.append(
                Pattern(
                    negate=pattern.negate,
                    segments=(*pattern.segments, GLOBSTAR),
                    trailing_separator=False,
                    search_path=pattern.search_path,
                    implicit=True,
                )
            )
    return result


def search_paths(patterns: list[Pattern]) -> list[str]:
    """Literal roots of the positive patterns, in order, dropping any under another."""
    positives = [p.search_path for p in patterns if not p.negate]
    candidates = set(positives)
    result: list[str] = []
    for path in positives:
        if path in result:
            continue
        parent = os.path.dirname(path)
        child = path
        has_ancestor = False
        while parent != child:
            if parent in candidates:
                has_ancestor = True
                break
            child, parent = parent, os.path.dirname(parent)
        if not has_ancestor:
            result.append(path)
    return result


def match_all(patterns: list[Pattern], path: str) -> int:
    result = MATCH_NONE
    for pattern in patterns:
        if pattern.negate:
            result &= ~pattern.match(path)
        else:
            result |= pattern.match(path)
    return result


def partial_match_any(patterns: list[Pattern], path: str) -> bool:
    return any(not p.negate and p.partial_match(path) for p in patterns)


def glob(
    pattern_lines: list[str],
    *,
    home: str,
    workdir: str,
    options: GlobOptions,
) -> Iterator[str]:
    """Yield matching absolute paths in the runner's traversal order."""
    patterns = [make_pattern(line, home=home, workdir=workdir) for line in pattern_lines]
    if options.implicit_descendants:
        patterns = with_implicit_descendants(patterns)
    stack: list[tuple[str, int]] = []
    for root in search_paths(patterns):
        if os.path.lexists(root):
            stack.insert(0, (root, 1))
    chain: list[str] = []  # real paths of the directories being walked, to cut cycles
    while stack:
        path, level = stack.pop()
        matched = match_all(patterns, path)
        # As @actions/glob: a match counts as a partial match, so the patterns are asked once.
        partial = bool(matched) or partial_match_any(patterns, path)
        if not partial:
            continue
        mode = _stat_mode(path, level, options, chain)
        if mode is None:
            continue
        if stat.S_ISDIR(mode):
            if matched & MATCH_DIRECTORY and options.match_directories:
                yield path
            elif not partial:
                continue
            children = sorted(os.listdir(path), key=os.fsencode, reverse=True)
            stack.extend((os.path.join(path, name), level + 1) for name in children)
        elif matched & MATCH_FILE:
            yield path


def _stat_mode(path: str, level: int, options: GlobOptions, chain: list[str]) -> int | None:
    if not options.follow_symbolic_links:
        return os.lstat(path).st_mode
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if options.omit_broken_symbolic_links:
            return None
        raise BrokenSymlink(
            f"No information found for the path '{path}'. This may indicate a broken symbolic link."
        ) from None
    if stat.S_ISDIR(mode):
        real = os.path.realpath(path)
        del chain[level - 1 :]
        if real in chain:
            return None
        chain.append(real)
    return mode


# --- segment matching (minimatch with dot: true, no braces, no extglobs) -----------------


def match_segments(parts: list[str], pattern: list[str], *, partial: bool) -> bool:
    """Match path segments against pattern segments; ``**`` spans zero or more segments.

    With ``partial`` the path may stop early: the question is whether a descendant could match.
    """
    i = 0
    while i < len(pattern):
        segment = pattern[i]
        if not parts:
            # minimatch stops when the path runs out: a remaining "**" does not match nothing.
            return partial
        if segment == GLOBSTAR:
            rest = pattern[i + 1 :]
            if not rest:
                return True
            for start in range(len(parts) + 1):
                if match_segments(parts[start:], rest, partial=partial):
                    return True
            return partial
        if not segment_regex(segment).fullmatch(parts[0]):
            return False
        parts = parts[1:]
        i += 1
    return not parts or parts == [""]


@lru_cache(maxsize=4096)
def segment_regex(segment: str) -> re.Pattern[str]:
    """Translate one glob segment to a regular expression."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "\\" and i + 1 < len(segment):
            out.append(re.escape(segment[i + 1]))
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            translated, i = _char_class(segment, i)
            out.append(translated)
        else:
            out.append(re.escape(char))
            i += 1
    body = "".join(out)
    if segment == "*" or segment.startswith("*"):
        # minimatch never lets a wildcard produce "." or ".." and needs a non-empty name.
        body = r"(?!\.{1,2}$)(?=.)" + body
    return re.compile(body, re.DOTALL)


def _char_class(segment: str, start: int) -> tuple[str, int]:
    """Translate ``[...]`` at ``start``; an unclosed ``[`` is a literal bracket."""
    i = start + 1
    negate = False
    if i < len(segment) and segment[i] in "!^":
        negate = True
        i += 1
    items: list[str] = []
    first = True
    while i < len(segment):
        char = segment[i]
        if char == "]" and not first:
            body = "".join(items)
            return (f"[^{body}]" if negate else f"[{body}]"), i + 1
        if char == "\\" and i + 1 < len(segment):
            items.append(re.escape(segment[i + 1]))
            i += 2
        elif char == "-" and items and i + 1 < len(segment) and segment[i + 1] != "]":
            items.append("-")
            i += 1
        else:
            items.append(re.escape(char))
            i += 1
        first = False
    return re.escape("["), start + 1

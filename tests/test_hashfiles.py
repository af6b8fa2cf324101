from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.ghcache.hashfiles import HashFilesError, hash_files
from tests.helpers import expected_hash, write


def h(ws: Path, *patterns: str, follow: bool = False, home: Path | None = None) -> str:
    return hash_files(list(patterns), workspace=ws, home=home or ws, follow_symbolic_links=follow)


# --- the spec's vectors ------------------------------------------------------------------


def test_spec_vector_single_file(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "hello\n")
    assert h(tmp_path, "requirements.txt") == (
        "ecb65bb98f9d905b70458986c39fcbad7715e5f2fcc3b1f07767d7c83e2438cc"
    )


def test_spec_vector_globstar(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "hello\n")
    write(tmp_path / "sub" / "requirements.txt", "numpy==2.0.0\n")
    assert h(tmp_path, "**/requirements.txt") == (
        "97cbfebd8612a364ceaad49c7da5e10045c2b22f8daed848169a51a1a23d5761"
    )


# --- matching ------------------------------------------------------------------------------


def test_no_match_is_empty_string(tmp_path: Path) -> None:
    write(tmp_path / "a.txt")
    assert h(tmp_path, "**/*.lock") == ""


def test_traversal_sorts_raw_name_bytes_per_directory(tmp_path: Path) -> None:
    inner = write(tmp_path / "a" / "b.txt", "1")
    outer = write(tmp_path / "a.txt", "2")
    upper = write(tmp_path / "B.txt", "3")
    # "B" < "a" (uppercase first) and "a" < "a.txt" so a/b.txt comes before a.txt.
    assert h(tmp_path, "**/*.txt") == expected_hash(upper, inner, outer)
    assert h(tmp_path, "**/*.txt") != expected_hash(upper, outer, inner)


def test_search_paths_are_walked_in_pattern_order(tmp_path: Path) -> None:
    big = write(tmp_path / "B" / "x", "1")
    small = write(tmp_path / "a" / "x", "2")
    assert h(tmp_path, "B/**", "a/**") == expected_hash(big, small)
    assert h(tmp_path, "a/**", "B/**") == expected_hash(small, big)


def test_negation_and_reinclusion(tmp_path: Path) -> None:
    top = write(tmp_path / "top.txt", "t")
    write(tmp_path / "a" / "b.txt", "b")
    kept = write(tmp_path / "a" / "c" / "d.txt", "d")
    assert h(tmp_path, "**/*.txt", "!a/**") == expected_hash(top)
    assert h(tmp_path, "**/*.txt", "!a/**", "a/c/*") == expected_hash(kept, top)


def test_double_negation_is_positive(tmp_path: Path) -> None:
    f = write(tmp_path / "f.txt")
    assert h(tmp_path, "!!f.txt") == expected_hash(f)


def test_question_mark_and_character_classes(tmp_path: Path) -> None:
    a1 = write(tmp_path / "a1.txt", "1")
    a2 = write(tmp_path / "a2.txt", "2")
    write(tmp_path / "ab.txt", "3")
    write(tmp_path / "a10.txt", "4")
    assert h(tmp_path, "a?.txt") == expected_hash(a1, a2, tmp_path / "ab.txt")
    assert h(tmp_path, "a[0-9].txt") == expected_hash(a1, a2)
    assert h(tmp_path, "a[!1].txt") == expected_hash(a2, tmp_path / "ab.txt")
    assert h(tmp_path, "a[^1].txt") == expected_hash(a2, tmp_path / "ab.txt")


def test_star_stays_within_a_segment(tmp_path: Path) -> None:
    top = write(tmp_path / "x.txt")
    write(tmp_path / "d" / "y.txt")
    assert h(tmp_path, "*.txt") == expected_hash(top)


def test_globstar_matches_zero_or_more_segments(tmp_path: Path) -> None:
    zero = write(tmp_path / "a" / "x.txt", "0")
    two = write(tmp_path / "a" / "b" / "c" / "x.txt", "2")
    # Inside "a", "b" sorts before "x.txt": the deeper file comes first.
    assert h(tmp_path, "a/**/x.txt") == expected_hash(two, zero)


def test_implicit_descendants_of_a_directory(tmp_path: Path) -> None:
    one = write(tmp_path / "a" / "one", "1")
    two = write(tmp_path / "a" / "sub" / "two", "2")
    assert h(tmp_path, "a") == expected_hash(one, two)


def test_trailing_slash_matches_only_directories(tmp_path: Path) -> None:
    inside = write(tmp_path / "d" / "f", "1")
    write(tmp_path / "plain", "2")
    assert h(tmp_path, "d/") == expected_hash(inside)
    assert h(tmp_path, "plain/") == ""


def test_dot_files_and_dot_directories_match(tmp_path: Path) -> None:
    hidden = write(tmp_path / ".hidden", "1")
    in_git = write(tmp_path / ".git" / "config", "2")
    assert h(tmp_path, "*") == expected_hash(in_git, hidden)
    assert h(tmp_path, "**/config") == expected_hash(in_git)


def test_backslash_escapes_a_glob_character(tmp_path: Path) -> None:
    star = write(tmp_path / "a*b", "1")
    write(tmp_path / "axb", "2")
    assert h(tmp_path, "a\\*b") == expected_hash(star)


def test_case_sensitive(tmp_path: Path) -> None:
    write(tmp_path / "Requirements.txt")
    assert h(tmp_path, "requirements.txt") == ""


def test_several_lines_comments_and_blank_lines(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "1")
    b = write(tmp_path / "b", "2")
    assert h(tmp_path, "# comment\n\n  a  \n", "b") == expected_hash(a, b)


def test_dot_prefix_is_the_workspace(tmp_path: Path) -> None:
    f = write(tmp_path / "req.txt")
    assert h(tmp_path, "./req.txt") == expected_hash(f)


def test_tilde_is_home_and_files_outside_the_workspace_are_ignored(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    inside_home = ws / "home"
    f = write(inside_home / "f", "1")
    outside_home = tmp_path / "elsewhere"
    write(outside_home / "f", "2")
    assert h(ws, "~/f", home=inside_home) == expected_hash(f)
    assert h(ws, "~/f", home=outside_home) == ""


def test_leading_slash_is_the_filesystem_root(tmp_path: Path) -> None:
    f = write(tmp_path / "requirements.txt", "1")
    assert h(tmp_path, "/requirements.txt") == ""
    assert h(tmp_path, str(f)) == expected_hash(f)


@pytest.mark.parametrize("pattern", ["../x", "a/../b", "a/./b", "**/.."])
def test_relative_pathing_fails(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(HashFilesError, match=r"Relative pathing '\.' and '\.\.' is not allowed"):
        h(tmp_path, pattern)


# --- symbolic links --------------------------------------------------------------------------


def test_symlink_to_file_hashes_its_target(tmp_path: Path) -> None:
    target = write(tmp_path / "real.txt", "content")
    (tmp_path / "link.txt").symlink_to(target)
    assert h(tmp_path, "link.txt") == expected_hash(target)


def test_symlinked_directory_is_not_entered_without_follow(tmp_path: Path) -> None:
    real = write(tmp_path / "real" / "f.txt", "1")
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    assert h(tmp_path, "**/*.txt") == expected_hash(real)
    assert h(tmp_path, "**/*.txt", follow=True) == expected_hash(real, real)


def test_broken_symlink_fails_only_when_matched(tmp_path: Path) -> None:
    kept = write(tmp_path / "a.txt", "1")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing")
    with pytest.raises(HashFilesError, match="broken symbolic link"):
        h(tmp_path, "*.txt")
    assert h(tmp_path, "a.txt") == expected_hash(kept)
    assert h(tmp_path, "*.txt", "!broken.txt") == expected_hash(kept)


def test_follow_skips_broken_symlinks_and_cuts_cycles(tmp_path: Path) -> None:
    f = write(tmp_path / "d" / "f.txt", "1")
    (tmp_path / "d" / "broken.txt").symlink_to(tmp_path / "missing")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    assert h(tmp_path, "**/*.txt", follow=True) == expected_hash(f)
    assert hash_files(
        ["--follow-symbolic-links", "**/*.txt"], workspace=tmp_path, home=tmp_path
    ) == expected_hash(f)


# --- a property: '**' hashes every file in raw-byte depth-first order ------------------------

names = st.text(alphabet="aAbB._-0", min_size=1, max_size=4).filter(lambda n: n not in {".", ".."})
trees = st.lists(st.lists(names, min_size=1, max_size=3), min_size=1, max_size=12)


def reference_order(root: Path) -> list[Path]:
    files: list[Path] = []
    for name in sorted(os.listdir(root), key=os.fsencode):
        path = root / name
        if path.is_dir():
            files.extend(reference_order(path))
        else:
            files.append(path)
    return files


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(paths=trees)
def test_globstar_hashes_all_files_depth_first_by_raw_bytes(tmp_path_factory, paths) -> None:
    ws = tmp_path_factory.mktemp("ws")
    for parts in paths:
        target = ws.joinpath(*parts)
        if any(p.is_file() for p in target.parents if p != ws and p.is_relative_to(ws)):
            continue
        if target.is_dir():
            continue
        write(target, "/".join(parts))
    order = reference_order(ws)
    assert h(ws, "**") == expected_hash(*order)
    # A directory whose name matches "*.txt" brings in everything below it (implicit
    # descendants), so a file counts when it or any folder above it ends in ".txt".
    assert h(ws, "**/*.txt") == expected_hash(
        *[p for p in order if any(q.name.endswith(".txt") for q in [p, *p.parents] if q != ws)]
    )
    if order:
        first = order[0].relative_to(ws).parts[0]
        rest = [p for p in order if p.relative_to(ws).parts[0] != first]
        assert h(ws, "**", f"!{first}") == expected_hash(*rest)

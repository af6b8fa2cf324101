from __future__ import annotations

import pytest

from bench.ghcache.keys import (
    GZIP,
    ZSTD,
    ValidationError,
    cache_version,
    check_key,
    check_keys,
    check_paths,
    detect_compression,
    is_exact_key_match,
    parse_multiline,
)


def test_version_vector_from_the_spec() -> None:
    assert cache_version(["~/.cache/pip"], ZSTD) == (
        "2a50607a47f0c27aad98b33e03fa13615fdc9c33dc4fff3945d2d5078a8f7664"
    )


def test_version_depends_on_raw_path_lines_and_compression() -> None:
    base = cache_version(["~/.cache/pip"], ZSTD)
    assert cache_version(["/home/runner/.cache/pip"], ZSTD) != base
    assert cache_version(["~/.cache/pip"], GZIP) != base
    assert cache_version(["a", "b"], ZSTD) != cache_version(["b", "a"], ZSTD)


def test_key_with_a_comma_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"^Key Validation Error: a,b cannot contain commas\.$"
    ):
        check_key("a,b")


def test_key_of_512_characters_passes_and_513_fails() -> None:
    check_key("k" * 512)
    with pytest.raises(ValidationError, match=r"cannot be larger than 512 characters\.$"):
        check_key("k" * 513)


def test_at_most_ten_keys() -> None:
    check_keys("p", [f"r{i}" for i in range(9)])
    with pytest.raises(
        ValidationError, match=r"^Key Validation Error: Keys are limited to a maximum of 10\.$"
    ):
        check_keys("p", [f"r{i}" for i in range(10)])


def test_paths_required() -> None:
    with pytest.raises(ValidationError, match="At least one directory or file path is required"):
        check_paths([])


def test_multiline_inputs_are_trimmed_and_blank_lines_dropped() -> None:
    assert parse_multiline("  ~/.cache/pip \n\n!  x\n  ") == ["~/.cache/pip", "!  x"]


def test_exact_key_match_ignores_case_only() -> None:
    assert is_exact_key_match("Linux-pip-ABC", "linux-pip-abc")
    assert not is_exact_key_match("Linux-pip-ABC", "Linux-pip-AB")
    assert not is_exact_key_match("k", None)


def test_compression_falls_back_to_gzip_without_zstd(tmp_path) -> None:
    assert detect_compression(str(tmp_path)) == GZIP
    (tmp_path / "zstd").write_text("#!/bin/sh\n")
    (tmp_path / "zstd").chmod(0o755)
    assert detect_compression(str(tmp_path)) == ZSTD

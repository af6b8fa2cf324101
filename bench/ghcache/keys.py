"""Cache keys, inputs and the cache version, as ``actions/cache`` and its toolkit define them."""

from __future__ import annotations

import hashlib
import shutil

from bench.errors import BenchError

MAX_KEY_LENGTH = 512
MAX_KEYS = 10
ZSTD = "zstd-without-long"
GZIP = "gzip"
VERSION_SALT = "1.0"


class ValidationError(BenchError):
    """The toolkit's ValidationError: fails a restore step, is only logged by a save step."""


def parse_multiline(value: str) -> list[str]:
    """Split an input on newlines, trim each line, drop empty ones (``path``, ``restore-keys``)."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"Key Validation Error: {key} cannot be larger than {MAX_KEY_LENGTH} characters."
        )
    if "," in key:
        raise ValidationError(f"Key Validation Error: {key} cannot contain commas.")


def check_keys(primary_key: str, restore_keys: list[str]) -> None:
    keys = [primary_key, *restore_keys]
    if len(keys) > MAX_KEYS:
        raise ValidationError(f"Key Validation Error: Keys are limited to a maximum of {MAX_KEYS}.")
    for key in keys:
        check_key(key)


def check_paths(paths: list[str]) -> None:
    if not paths:
        raise ValidationError(
            "Path Validation Error: At least one directory or file path is required"
        )


def detect_compression(search_path: str | None = None) -> str:
    """``zstd-without-long`` when ``zstd`` is on PATH, otherwise ``gzip`` (as the toolkit)."""
    return ZSTD if shutil.which("zstd", path=search_path) else GZIP


def cache_version(paths: list[str], compression: str) -> str:
    """SHA-256 of the raw path lines, the compression method and the salt, joined by ``|``."""
    return hashlib.sha256("|".join([*paths, compression, VERSION_SALT]).encode()).hexdigest()


def is_exact_key_match(key: str, matched: str | None) -> bool:
    """The action compares keys case-insensitively."""
    return bool(matched) and key.casefold() == str(matched).casefold()

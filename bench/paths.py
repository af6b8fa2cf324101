"""Folders the user names for output: absolute, a folder (made if missing), writable.

Checked where a command starts, so a file or a read-only folder is one line of error before
any work, not a traceback after it.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import BenchError


def output_folder(path: Path, what: str) -> Path:
    """``path`` made absolute and created if missing; a one-line error if it cannot hold files."""
    folder = path.expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise BenchError(f"{what} {folder} is a file; give a folder (it is made if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BenchError(
            f"cannot make {what} {folder}: {error.strerror}; give a writable folder"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BenchError(f"{what} {folder} is not writable; give a writable folder")
    return folder

"""Finding the command-line tools the harness itself runs (uv, actionlint) on its own side."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.errors import BenchError


def find_tool(name: str, package: str) -> str:
    """``name`` beside the running interpreter (its venv), else on PATH; else a one-line error."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        raise BenchError(f"{name} is needed here; install it (pip install {package})")
    return found

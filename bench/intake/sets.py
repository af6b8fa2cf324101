"""The pinned files a dependency set puts in the wheelhouse, resolving the ones that need it.

A set whose ``requirements.txt`` pins every package with hashes (the shipped sets, or a user's
compiled file) is used as it is. Any other form a user's folder comes in (``run --deps DIR``) is
resolved once into the run's folder (``<run>/deps/<set>/``), where the record of what was
installed stays; the user's folder is never written. The previous revision (``previous/``, an
overlay) is resolved from the set with the overlay applied.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.depsets import DependencySet, Revision
from bench.errors import BenchError
from bench.intake.resolve import Resolution, Target, resolve
from bench.mirror.fetch import read_pins

RESOLVED_DIR = "deps"
# Options of a hashed requirements file that fetching it as it is can honour.
SERVABLE_OPTIONS = ("--no-binary", "--only-binary", "--prefer-binary", "--require-hashes")


def set_requirements(deps: DependencySet, run_dir: Path, target: Target) -> list[Path]:
    """Pinned, hashed requirement files for the set and its previous revision."""
    files = _pinned_or_resolved(deps.path, run_dir / RESOLVED_DIR / deps.name, target)
    if deps.previous is not None:
        with tempfile.TemporaryDirectory(prefix="bench-previous-") as scratch:
            folder = apply_revision(deps.revision(previous=True), Path(scratch) / deps.name)
            out = run_dir / RESOLVED_DIR / f"{deps.name}-previous"
            files += _pinned_or_resolved(folder, out, target)
    return files


def _pinned_or_resolved(folder: Path, out: Path, target: Target) -> list[Path]:
    requirements = folder / "requirements.txt"
    if requirements.is_file() and _fully_hashed(requirements):
        out.mkdir(parents=True, exist_ok=True)
        kept = out / "requirements.resolved.txt"
        shutil.copyfile(requirements, kept)
        return [kept]
    resolution: Resolution = resolve(folder, out, target)
    return [resolution.requirements] + (
        [resolution.build_requirements] if resolution.build_requirements else []
    )


def _fully_hashed(requirements: Path) -> bool:
    """Every line pinned with hashes, and no option the mirror cannot serve (``-r``, indexes)."""
    try:
        pins, options = read_pins(requirements)
    except BenchError:
        return False
    return bool(pins) and all(option.startswith(SERVABLE_OPTIONS) for option in options)


def apply_revision(revision: Revision, dest: Path) -> Path:
    """The revision's files in ``dest``: its layers copied in order, then its removals."""
    for layer in revision.layers:
        shutil.copytree(layer, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("previous"))
    for name in revision.removed:
        (dest / name).unlink(missing_ok=True)
    return dest

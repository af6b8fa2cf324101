"""How much the emulator adds to a cache save and restore, against the bare tar commands.

Builds a real tree (copies of this interpreter's own library files, at least ``min_mb``), then,
in interleaved rounds whose order alternates, times:

* bare save: the toolkit's tar create command on a manifest, nothing else;
* emulator save: ``action.save`` (paths resolved, archive made, reserved, moved in, committed);
* bare restore: the toolkit's tar extract command into an emptied target;
* emulator restore: ``action.restore`` (lookup, size check, and the real extraction: the
  decompressed stream passes through ``bench.ghcache.confine``, which checks every member's
  headers before the same tar extracts it).

The ratios of the medians are the emulator's overhead.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.ghcache import action
from bench.ghcache.archive import create_command, extract_command
from bench.ghcache.keys import detect_compression
from bench.ghcache.store import CacheStore

TARGET_RATIO = 1.10
TREE_PATH = "~/venv"


@dataclass(frozen=True)
class SpeedReport:
    tree_bytes: int
    tree_files: int
    archive_bytes: int
    compression: str
    rounds: int
    bare_save: list[float]
    emulator_save: list[float]
    bare_restore: list[float]
    emulator_restore: list[float]

    @property
    def save_ratio(self) -> float:
        return statistics.median(self.emulator_save) / statistics.median(self.bare_save)

    @property
    def restore_ratio(self) -> float:
        return statistics.median(self.emulator_restore) / statistics.median(self.bare_restore)

    def render(self) -> str:
        def row(name: str, bare: list[float], emulated: list[float], ratio: float) -> str:
            verdict = "within" if ratio <= TARGET_RATIO else "OVER"
            return (
                f"{name:<8} {statistics.median(bare):>9.3f} {statistics.median(emulated):>12.3f}"
                f" {ratio:>7.3f}x  {verdict} the {TARGET_RATIO:.2f}x target"
            )

        return "\n".join(
            [
                f"tree: {self.tree_bytes / 1e6:.1f} MB in {self.tree_files} files; archive "
                f"{self.archive_bytes / 1e6:.1f} MB ({self.compression}); {self.rounds} rounds, "
                "medians in seconds",
                f"{'step':<8} {'bare tar':>9} {'emulator':>12} {'ratio':>8}",
                row("save", self.bare_save, self.emulator_save, self.save_ratio),
                row("restore", self.bare_restore, self.emulator_restore, self.restore_ratio),
            ]
        )


def build_tree(target: Path, min_bytes: int) -> tuple[int, int]:
    """Fill ``target`` with copies of this interpreter's library files; (bytes, files)."""
    sources = _unique_existing(
        [sysconfig.get_paths()[name] for name in ("stdlib", "purelib", "platlib")]
    )
    total = files = 0
    round_number = 0
    while total < min_bytes:
        for source in sources:
            for entry in sorted(os.scandir(source), key=lambda e: e.name):
                if entry.name == "site-packages":
                    continue  # listed on its own as purelib
                if total >= min_bytes:
                    return total, files
                destination = target / f"copy{round_number}" / Path(source).name / entry.name
                added_bytes, added_files = _copy(Path(entry.path), destination)
                total += added_bytes
                files += added_files
        round_number += 1
        if round_number > 1000:
            break
    return total, files


def run(min_mb: int = 200, rounds: int = 5, log: Callable[[str], None] = print) -> SpeedReport:
    compression = detect_compression()
    with tempfile.TemporaryDirectory(prefix="ghcache-speed-") as scratch_name:
        scratch = Path(scratch_name)
        home = scratch / "root" / "home" / "runner"
        workspace = home / "work" / "repo" / "repo"
        workspace.mkdir(parents=True)
        tree = home / "venv"
        log(f"building a tree of at least {min_mb} MB under {tree} ...")
        tree_bytes, tree_files = build_tree(tree, min_mb * 1_000_000)
        runner = action.Runner.for_workspace(
            workspace, home=home, root=scratch / "root", temp=scratch / "temp"
        )
        times: dict[str, list[float]] = {
            name: [] for name in ("bare_save", "emulator_save", "bare_restore", "emulator_restore")
        }
        archive_bytes = 0
        for index in range(rounds):
            store = CacheStore(scratch / f"store{index}")
            bare_dir = scratch / f"bare{index}"
            bare_dir.mkdir()
            relative = os.path.relpath(tree, workspace)
            (bare_dir / "manifest.txt").write_text(relative)
            key = f"speed-{index}"

            def bare_save(bare_dir: Path = bare_dir) -> None:
                command = create_command(str(workspace), compression)
                subprocess.run(command, cwd=bare_dir, check=True)

            def emulator_save(store: CacheStore = store, key: str = key) -> None:
                result = action.save(store, runner, paths=[TREE_PATH], key=key)
                if not result.saved:
                    raise RuntimeError("emulator save failed: " + " | ".join(result.log))

            def bare_restore(bare_dir: Path = bare_dir) -> None:
                archive = next(p for p in bare_dir.iterdir() if p.name.startswith("cache."))
                command = extract_command(archive, str(workspace), compression)
                subprocess.run(command, cwd=workspace, check=True)

            def emulator_restore(store: CacheStore = store, key: str = key) -> None:
                result = action.restore(store, runner, paths=[TREE_PATH], primary_key=key)
                if result.cache_hit != "true":
                    raise RuntimeError("emulator restore missed: " + " | ".join(result.log))

            saves = [("bare_save", bare_save), ("emulator_save", emulator_save)]
            restores = [("bare_restore", bare_restore), ("emulator_restore", emulator_restore)]
            if index % 2:
                saves.reverse()
                restores.reverse()
            for name, step in saves:
                times[name].append(_timed(step))
            moved_tree = scratch / "original"
            tree.rename(moved_tree)
            for name, step in restores:
                times[name].append(_timed(step))
                _check_same_size(tree, tree_bytes)
                shutil.rmtree(tree)
            moved_tree.rename(tree)
            archive_bytes = store.entries()[0].size
            shutil.rmtree(store.root)
            shutil.rmtree(bare_dir)
            log(
                f"round {index + 1}/{rounds}: "
                + ", ".join(f"{name} {values[-1]:.3f}s" for name, values in times.items())
            )
        return SpeedReport(
            tree_bytes=tree_bytes,
            tree_files=tree_files,
            archive_bytes=archive_bytes,
            compression=compression,
            rounds=rounds,
            **times,
        )


def _timed(step: Callable[[], None]) -> float:
    # Flush what earlier steps left dirty in the page cache, so that its write-back is not
    # charged to whichever step happens to come next.
    os.sync()
    start = time.perf_counter_ns()
    step()
    return (time.perf_counter_ns() - start) / 1e9


def _check_same_size(tree: Path, expected: int) -> None:
    restored, _ = _measure(tree)
    if restored != expected:
        raise RuntimeError(f"restored tree holds {restored} bytes, expected {expected}")


def _measure(path: Path) -> tuple[int, int]:
    total = files = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
                files += 1
    return total, files


def _copy(source: Path, destination: Path) -> tuple[int, int]:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink() or not (source.is_dir() or source.is_file()):
        return 0, 0
    if source.is_file():
        shutil.copy2(source, destination)
        return destination.stat().st_size, 1
    shutil.copytree(source, destination, symlinks=True, ignore_dangling_symlinks=True)
    return _measure(destination)


def _unique_existing(paths: list[str]) -> list[str]:
    seen: list[str] = []
    for path in paths:
        real = os.path.realpath(path)
        if os.path.isdir(real) and real not in seen:
            seen.append(real)
    return seen

"""Faults: a full disk, a save killed with SIGKILL, a read-only store, a damaged index, an
unreadable file under hash-files. Each leaves the store usable and ends in one line, not a
traceback.

Real faults where the machine allows them (a small tmpfs, a read-only bind mount: root only; a
chmod'ed store: not as root, since root writes anyway); the full-disk case is also simulated at
the copy layer so that it runs everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import cli
from bench.ghcache import action
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.ghcache.store import CacheStore
from bench.network.transfer import Transfer
from tests.helpers import write

PIP = "~/.cache/pip"
ROOT = os.geteuid() == 0
WORKTREE = Path(__file__).resolve().parents[1]


def fill(runner: action.Runner, size: int, name: str = "wheel") -> Path:
    cache = Path(runner.home) / ".cache" / "pip"
    write(cache / name, os.urandom(size))  # random: the archive is as large as the data
    return cache


def reserved_rows(store_root: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(store_root / "index.sqlite")) as db:
        return db.execute("SELECT id, key FROM entries WHERE state = 'reserved'").fetchall()


def assert_store_usable(store_root: Path, runner: action.Runner, key: str = "after") -> None:
    """List, save and restore all work on the store after a fault."""
    store = CacheStore(store_root)
    assert reserved_rows(store_root) == []
    assert [p.name for p in store.temp.iterdir()] == []
    cache = fill(runner, 1000, name="small")
    saved = action.save(store, runner, paths=[PIP], key=key)
    assert saved.saved, saved.log
    (cache / "small").unlink()
    restored = action.restore(store, runner, paths=[PIP], primary_key=key)
    assert restored.cache_hit == "true", restored.log
    assert (cache / "small").stat().st_size == 1000
    assert key in [e.key for e in store.entries()]


@contextlib.contextmanager
def mounted(target: Path, *options: str) -> Iterator[None]:
    if not ROOT:
        pytest.skip("mounting needs root")
    target.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(["mount", *options, str(target)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


# --- a full disk ---------------------------------------------------------------------------------


def test_disk_full_while_copying_into_the_store_simulated(store, runner, monkeypatch) -> None:
    fill(runner, 200_000)

    def copy_until_full(source: Path, destination: Path, **_pacing: float) -> int:
        with open(destination, "wb") as handle:
            handle.write(Path(source).read_bytes()[:50_000])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))

    monkeypatch.setattr(action, "paced_copy", copy_until_full)
    result = action.save(
        store, runner, paths=[PIP], key="k", transfer=Transfer(upload_bytes_per_s=1e9)
    )
    assert not result.saved
    assert result.log[-1].startswith("Warning: Failed to save: [Errno 28] No space left")
    monkeypatch.undo()
    assert [p.name for p in store.archives.iterdir()] == []
    assert_store_usable(store.root, runner)


def test_disk_full_on_a_real_small_disk(tmp_path, runner) -> None:
    disk = tmp_path / "disk"
    with mounted(disk, "-t", "tmpfs", "-o", "size=2m", "tmpfs"):
        store = CacheStore(disk / "store")
        # Larger than the disk: tar fails while writing the archive in the store's temp.
        fill(runner, 3_000_000)
        too_big = action.save(store, runner, paths=[PIP], key="big")
        assert not too_big.saved
        assert too_big.log[-1].startswith("Warning: tar --posix failed")
        # Fits once but not twice: the paced copy into the store runs out of space.
        fill(runner, 1_200_000)
        copied = action.save(
            store, runner, paths=[PIP], key="copy", transfer=Transfer(upload_bytes_per_s=1e9)
        )
        assert not copied.saved
        assert "No space left on device" in copied.log[-1]
        assert [p.name for p in store.archives.iterdir()] == []
        (Path(runner.home) / ".cache" / "pip" / "wheel").unlink()
        assert_store_usable(store.root, runner)
        # A disk filled to the last byte by something else: list and restore still work, save
        # warns in one line.
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:
                filler.write(bytes(65536))
        assert cli.main(["cache", "list", "--store", str(store.root)]) == 0
        assert action.restore(store, runner, paths=[PIP], primary_key="after").cache_hit == "true"
        fill(runner, 10_000, name="more")
        full = action.save(CacheStore(store.root), runner, paths=[PIP], key="full")
        assert not full.saved
        assert len(full.log) == 1 and full.log[0].startswith("Warning: ")


# --- kill -9 during a save -------------------------------------------------------------------


_SAVER = """
import sys
from bench.ghcache import action
from bench.ghcache.store import CacheStore
from bench.network.transfer import Transfer
runner = action.Runner.for_workspace(sys.argv[2], home=sys.argv[3], root=sys.argv[4],
                                     temp=sys.argv[5])
action.save(CacheStore(sys.argv[1]), runner, paths=["~/.cache/pip"], key="killed",
            transfer=Transfer(upload_bytes_per_s=100_000))
"""


def test_save_killed_mid_write_is_taken_over_by_the_next_list_and_save(
    store, runner, tmp_path
) -> None:
    fill(runner, 2_000_000)  # 20 s at the paced 100 kB/s: killed long before
    saver = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(store.root), runner.workspace, runner.home,
         runner.root, runner.temp],
        env={**os.environ, "PYTHONPATH": str(WORKTREE)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(store.temp.glob("*.partial")):
            assert saver.poll() is None, "the saver ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)  # mid-write
    finally:
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
    left = sorted(p.name for p in store.temp.iterdir())
    assert any(name.endswith(".tzst.partial") for name in left)
    assert any(name.startswith(f"save-{saver.pid}-") for name in left)  # the temporary archive
    assert reserved_rows(store.root) != []
    assert list(Path(runner.temp).iterdir()) == []  # nothing in the runner's (system) temp
    # The next listing takes over: the dead saver's row, partial and scratch folder go.
    assert CacheStore(store.root).entries() == []
    assert reserved_rows(store.root) == []
    assert list(store.temp.iterdir()) == []
    # And the key can be saved again.
    saved = action.save(CacheStore(store.root), runner, paths=[PIP], key="killed")
    assert saved.saved, saved.log
    assert_store_usable(store.root, runner)


def test_next_save_also_takes_over_a_dead_savers_leftovers(store, runner) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    (store.temp / f"save-{pid}-{'0' * 32}").mkdir()
    write(store.temp / f"save-{pid}-{'0' * 32}" / "cache.tzst", "half an archive")
    write(store.temp / "77.tzst.partial", "half")
    fill(runner, 1000)
    assert action.save(store, runner, paths=[PIP], key="k").saved
    assert list(store.temp.iterdir()) == []


# --- a read-only store -----------------------------------------------------------------------


def _read_only_checks(store_root: Path, runner: action.Runner, capsys) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    common = ["--store", str(store_root), "--workspace", runner.workspace, "--path", PIP]
    common += ["--root", runner.root]
    code, out, err = run("cache", "list", "--store", str(store_root))
    assert (code, err) == (0, "") and "k" in out
    (Path(runner.home) / ".cache" / "pip" / "wheel").unlink()
    code, out, err = run("cache", "restore", *common, "--key", "k")
    assert code == 0 and "cache-hit=true" in out, (out, err)
    assert (Path(runner.home) / ".cache" / "pip" / "wheel").is_file()
    code, out, err = run("cache", "restore", *common, "--key", "k", "--lookup-only")
    assert code == 0 and "cache-hit=true" in out
    code, out, err = run("cache", "save", *common, "--key", "new")
    assert code == 0
    assert out.strip().splitlines()[-1] == (
        f"Warning: Failed to save: the cache store {store_root} is read-only"
    )
    assert "Traceback" not in out + err


@pytest.mark.skipif(ROOT, reason="root writes to a chmod'ed folder anyway")
def test_read_only_store_by_permissions(store, runner, capsys, monkeypatch) -> None:
    fill(runner, 1000)
    assert action.save(store, runner, paths=[PIP], key="k").saved
    monkeypatch.setenv("HOME", runner.home)
    for path in [store.root, store.archives, store.temp, store.root / "index.sqlite"]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        _read_only_checks(store.root, runner, capsys)
    finally:
        for path in [store.root, store.archives, store.temp]:
            path.chmod(0o755)


def test_read_only_store_on_a_read_only_mount(store, runner, tmp_path, capsys, monkeypatch):
    fill(runner, 1000)
    assert action.save(store, runner, paths=[PIP], key="k").saved
    monkeypatch.setenv("HOME", runner.home)
    view = tmp_path / "read-only-store"
    with mounted(view, "--bind", "-o", "ro", str(store.root)):
        if os.access(view, os.W_OK):
            pytest.skip("the bind mount did not become read-only")
        _read_only_checks(view, runner, capsys)


# --- a damaged or incomplete store ------------------------------------------------------------


def test_damaged_index_is_one_line_for_every_command(store, runner, capsys, monkeypatch):
    fill(runner, 1000)
    assert action.save(store, runner, paths=[PIP], key="k").saved
    (store.root / "index.sqlite").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("HOME", runner.home)
    common = ["--store", str(store.root), "--workspace", runner.workspace, "--path", PIP]
    for argv in (["cache", "list", "--store", str(store.root)],
                 ["cache", "restore", *common, "--key", "k"],
                 ["cache", "save", *common, "--key", "k2"]):  # fmt: skip
        assert cli.main(argv) == 2
        _out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "is damaged" in err and "Traceback" not in err


def test_missing_member_listing_does_not_stop_a_restore(store, runner) -> None:
    cache = fill(runner, 1000)
    entry = action.save(store, runner, paths=[PIP], key="k").entry
    assert entry is not None
    entry.listing.unlink()
    (cache / "wheel").unlink()
    assert action.restore(store, runner, paths=[PIP], primary_key="k").cache_hit == "true"
    assert (cache / "wheel").is_file()


def test_missing_archive_is_a_miss_with_a_warning(store, runner) -> None:
    fill(runner, 1000)
    entry = action.save(store, runner, paths=[PIP], key="k").entry
    assert entry is not None
    entry.archive.unlink()
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert result.cache_hit == ""
    assert result.log[0] == "Warning: Failed to restore: the archive of k is missing from the store"


# --- unreadable input to hash-files ---------------------------------------------------------


def test_hash_files_on_an_unreadable_file_fails_with_one_message(tmp_path, monkeypatch) -> None:
    write(tmp_path / "ws" / "requirements.txt", "x==1\n")
    real_open = open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("requirements.txt"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(HashFilesError, match=r"cannot read '.*requirements.txt': Permission"):
        hash_files(["**/requirements.txt"], workspace=tmp_path / "ws")


@pytest.mark.skipif(ROOT, reason="root reads a chmod'ed file anyway")
def test_hash_files_cli_on_unreadable_file_and_folder(tmp_path, capsys) -> None:
    workspace = tmp_path / "ws"
    write(workspace / "locked" / "requirements.txt", "x==1\n").chmod(0)
    try:
        assert cli.main(["hash-files", "--workspace", str(workspace), "**/*.txt"]) == 2
        _out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "cannot read" in err and "Traceback" not in err
        (workspace / "locked").chmod(0)
        assert cli.main(["hash-files", "--workspace", str(workspace), "**/*.txt"]) == 2
        _out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "cannot read" in err
    finally:
        (workspace / "locked").chmod(0o755)
        (workspace / "locked" / "requirements.txt").chmod(0o644)


def test_hash_files_on_an_unreadable_folder_fails_with_one_message(tmp_path, monkeypatch) -> None:
    write(tmp_path / "ws" / "locked" / "requirements.txt", "x==1\n")
    real_listdir = os.listdir

    def refusing_listdir(path):
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", refusing_listdir)
    with pytest.raises(HashFilesError, match=r"cannot read '.*locked': Permission denied$"):
        hash_files(["**/requirements.txt"], workspace=tmp_path / "ws")

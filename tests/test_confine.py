"""Confinement of a restore: hostile archives change nothing outside the runner's root.

Each test builds an archive (with the tool's own save, GNU tar, or tarfile for headers tar
would not write), puts it in the store, restores it, and compares everything outside the root
before and after.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.ghcache import action
from bench.ghcache.action import DEFAULT_SCOPE
from bench.ghcache.confine import (
    DIRECTORY,
    FILE,
    HARDLINK,
    SYMLINK,
    ArchiveEscape,
    Confinement,
    Member,
    parse_entry,
    pump,
)
from bench.ghcache.keys import ZSTD, cache_version
from tests.helpers import write

PIP = "~/.cache/pip"


# --- helpers -----------------------------------------------------------------------------------


def outside_state(tmp_path: Path, root: Path) -> dict[bytes, tuple]:
    """Everything under ``tmp_path`` but outside ``root``: type, mode, size, content, link.

    The store and the crafted archives (``made-*``) are left out: a restore marks its entry
    accessed in the store. A new entry anywhere shows as a new key.
    """
    state: dict[bytes, tuple] = {}
    base = os.fsencode(tmp_path)
    skipped = {os.fsencode(root), os.fsencode(tmp_path / "store")}
    for folder, dirs, files in os.walk(base):
        dirs[:] = [
            d for d in dirs if os.path.join(folder, d) not in skipped and not d.startswith(b"made-")
        ]
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            content = b""
            if stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).digest()
            link = os.readlink(path) if stat.S_ISLNK(info.st_mode) else b""
            state[path] = (
                info.st_mode,
                info.st_size,
                info.st_nlink,
                info.st_mtime_ns,
                content,
                link,
            )
    return state


def tar_bytes(*entries: tarfile.TarInfo | tuple[tarfile.TarInfo, bytes], fmt=tarfile.PAX_FORMAT):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for entry in entries:
            info, data = entry if isinstance(entry, tuple) else (entry, None)
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def info(
    name: str | bytes, kind: bytes = tarfile.REGTYPE, link: str | bytes = ""
) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(os.fsdecode(name))
    entry.type = kind
    entry.linkname = os.fsdecode(link)
    entry.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    entry.mtime = 1_700_000_000
    return entry


def compress(data: bytes, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cache.tzst"
    path.write_bytes(subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                                    check=True).stdout)  # fmt: skip
    return path


def put(store, tmp_path: Path, data: bytes, key: str = "k") -> None:
    """Put a crafted archive in the store as it is (no listing: tar might not list it)."""
    archive = compress(data, tmp_path / f"made-{key}")
    version = cache_version([PIP], ZSTD)
    store.commit(store.reserve(DEFAULT_SCOPE, key, version, ZSTD), archive, "")


def restore_raw(store, runner, tmp_path: Path, data: bytes, key: str = "k") -> action.RestoreResult:
    put(store, tmp_path, data, key)
    return action.restore(store, runner, paths=[PIP], primary_key=key, compression=ZSTD)


def home_relative(runner: action.Runner, target: Path) -> str:
    """A member name that reaches ``target`` from the workspace with '../'."""
    return os.path.relpath(target, runner.workspace)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    write(folder / "file", "precious\n")
    return folder


def assert_refused(result: action.RestoreResult, member: str) -> None:
    assert result.cache_hit == "" and result.entry is None and not result.failed
    assert result.log[0].startswith("Warning: Failed to restore: archive member ")
    assert f"archive member '{member}' " in result.log[0]
    assert "refusing to extract" in result.log[0]
    assert "\n" not in result.log[0]
    assert result.log[-1].startswith("Cache not found for input keys")


# --- the three findings of the issue ------------------------------------------------------------


def test_symlink_named_with_an_arrow_made_by_the_tools_own_save(store, runner, tmp_path, outside):
    cache = Path(runner.home) / ".cache" / "pip"
    cache.mkdir(parents=True)
    (cache / "x -> y").symlink_to(outside)
    write(outside / "evil.txt", "planted")
    paths = [f"{PIP}/x -> y", f"{PIP}/x -> y/evil.txt"]
    saved = action.save(store, runner, paths=paths, key="k")
    assert saved.saved, saved.log
    shutil.rmtree(cache)
    (outside / "evil.txt").unlink()
    before = outside_state(tmp_path, Path(runner.root))
    result = action.restore(store, runner, paths=paths, primary_key="k")
    assert_refused(result, "../../../.cache/pip/x -> y/evil.txt")
    assert "through the symbolic link" in result.log[0]
    assert outside_state(tmp_path, Path(runner.root)) == before
    assert not (outside / "evil.txt").exists()


@pytest.mark.parametrize("form", ["absolute", "dotdot", "named 'a link to b'"])
def test_hard_link_to_a_file_outside_is_refused(store, runner, tmp_path, outside, form) -> None:
    target = outside / "file"
    link = {
        "absolute": str(target),
        "dotdot": home_relative(runner, target),
        "named 'a link to b'": home_relative(runner, target),
    }[form]
    name = "a link to b" if form.startswith("named") else "hard"
    before = outside_state(tmp_path, Path(runner.root))
    result = restore_raw(store, runner, tmp_path, tar_bytes(info(name, tarfile.LNKTYPE, link)))
    assert_refused(result, name)
    assert f"(hard link) is a hard link to '{link}'" in result.log[0]
    assert outside_state(tmp_path, Path(runner.root)) == before
    assert os.stat(target).st_nlink == 1
    assert not os.path.lexists(Path(runner.workspace) / name)


def test_archive_swapped_in_the_store_for_a_crafted_one_of_the_same_size(
    store, runner, tmp_path, outside
) -> None:
    write(Path(runner.home) / ".cache" / "pip" / "wheel", os.urandom(4096))
    entry = action.save(store, runner, paths=[PIP], key="k").entry
    assert entry is not None
    escape = home_relative(runner, outside / "planted")
    crafted = compress(tar_bytes((info(escape), b"owned")), tmp_path / "crafted").read_bytes()
    padding = entry.size - len(crafted) - 8
    assert padding >= 0
    skippable = struct.pack("<II", 0x184D2A50, padding) + bytes(padding)  # a zstd skippable frame
    entry.archive.write_bytes(crafted + skippable)
    assert entry.archive.stat().st_size == entry.size
    before = outside_state(tmp_path, Path(runner.root))
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert_refused(result, escape)
    assert outside_state(tmp_path, Path(runner.root)) == before


# --- more hostile archives ------------------------------------------------------------------------


def test_fifo_and_device_nodes_are_refused(store, runner, tmp_path) -> None:
    fifo = info("pipe", tarfile.FIFOTYPE)
    device = info("null", tarfile.CHRTYPE)
    device.devmajor, device.devminor = 1, 3
    block = info("disk", tarfile.BLKTYPE)
    for key, entry, what in [("f", fifo, "a FIFO"), ("c", device, "a character device"),
                             ("b", block, "a block device")]:  # fmt: skip
        result = restore_raw(store, runner, tmp_path, tar_bytes(entry), key=key)
        assert result.cache_hit == ""
        assert f"archive member '{entry.name}' is {what}" in result.log[0]
        assert not os.path.lexists(Path(runner.workspace) / entry.name)


def test_symlink_chain_is_refused(store, runner, tmp_path, outside) -> None:
    data = tar_bytes(
        info("a", tarfile.SYMTYPE, "b"),
        info("b", tarfile.SYMTYPE, str(outside)),
        (info("a/planted"), b"owned"),
    )
    before = outside_state(tmp_path, Path(runner.root))
    result = restore_raw(store, runner, tmp_path, data)
    assert_refused(result, "a/planted")
    assert outside_state(tmp_path, Path(runner.root)) == before


def test_directory_replaced_by_a_symlink_between_two_members(store, runner, tmp_path, outside):
    data = tar_bytes(
        info("d", tarfile.DIRTYPE),
        info("d", tarfile.SYMTYPE, str(outside)),
        (info("d/planted"), b"owned"),
    )
    before = outside_state(tmp_path, Path(runner.root))
    result = restore_raw(store, runner, tmp_path, data)
    assert_refused(result, "d")
    assert "by a symbolic link" in result.log[0]
    assert outside_state(tmp_path, Path(runner.root)) == before


def test_directory_replaced_by_a_symlink_on_disk_before_the_restore(
    store, runner, tmp_path, outside
) -> None:
    cache = Path(runner.home) / ".cache" / "pip"
    write(cache / "sub" / "wheel", "bytes")
    assert action.save(store, runner, paths=[PIP], key="k").saved
    shutil.rmtree(cache / "sub")
    (cache / "sub").symlink_to(outside)  # a step put a link where the cache has a folder
    before = outside_state(tmp_path, Path(runner.root))
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert result.cache_hit == ""
    assert (
        "'../../../.cache/pip/sub/' (directory) is a directory over the symbolic link"
        in (result.log[0])
    )
    assert outside_state(tmp_path, Path(runner.root)) == before


def test_file_written_through_a_symlink_already_on_disk(store, runner, tmp_path, outside):
    (Path(runner.workspace) / "link").symlink_to(outside)
    before = outside_state(tmp_path, Path(runner.root))
    result = restore_raw(store, runner, tmp_path, tar_bytes((info("link/file"), b"owned")))
    assert_refused(result, "link/file")
    assert outside_state(tmp_path, Path(runner.root)) == before


@pytest.mark.parametrize(
    "name",
    [
        "../../../../../../../../escaped",
        "a/../../../../../../../../../escaped",
        b"../../../../../../../../\xff\n -> escaped",
    ],
)
def test_names_resolving_outside_are_refused(store, runner, tmp_path, name) -> None:
    before = outside_state(tmp_path, Path(runner.root))
    result = restore_raw(store, runner, tmp_path, tar_bytes((info(name), b"owned")))
    assert result.cache_hit == ""
    assert "outside the runner root" in result.log[0]
    assert "\n" not in result.log[0]
    assert outside_state(tmp_path, Path(runner.root)) == before


def test_absolute_name_outside_is_refused_inside_is_restored(store, runner, tmp_path, outside):
    inside = Path(runner.home) / "absolute.txt"
    data = tar_bytes((info(str(inside)), b"fine"))
    assert restore_raw(store, runner, tmp_path, data, key="in").cache_hit == "true"
    assert inside.read_text() == "fine"
    before = outside_state(tmp_path, Path(runner.root))
    result = restore_raw(store, runner, tmp_path, tar_bytes((info(str(outside / "file")), b"x")))
    assert "outside the runner root" in result.log[0]
    assert outside_state(tmp_path, Path(runner.root)) == before


def test_a_refused_member_stops_the_archive_at_that_member(store, runner, tmp_path) -> None:
    data = tar_bytes(
        (info("first"), b"1"),
        (info("../../../../../../../../escaped"), b"2"),
        (info("third"), b"3"),
    )
    result = restore_raw(store, runner, tmp_path, data)
    assert result.cache_hit == ""
    assert (Path(runner.workspace) / "first").read_bytes() == b"1"  # as tar on an error
    assert not (Path(runner.workspace) / "third").exists()


def test_headers_tar_would_read_differently_are_refused(store, runner, tmp_path) -> None:
    good = bytearray(tar_bytes((info("fine"), b"data"), fmt=tarfile.USTAR_FORMAT))
    bad_checksum = bytearray(good)
    bad_checksum[0] ^= 1  # the name changes, the checksum does not
    symlink_with_data = bytearray(tar_bytes(info("ln", tarfile.SYMTYPE, "x")))
    symlink_with_data[124:136] = b"00000001000\x00"
    _fix_checksum(symlink_with_data)
    gnu_sparse = tar_bytes((info("s"), b"d"))
    gnu_sparse = tar_bytes(_with_pax(info("s"), {"GNU.sparse.size": "1"}))
    for key, data, message in [
        ("checksum", bad_checksum, "checksum is wrong"),
        ("symlink", symlink_with_data, "with data"),
        ("sparse", gnu_sparse, "GNU tar's pax key"),
    ]:
        result = restore_raw(store, runner, tmp_path, bytes(data), key=key)
        assert result.cache_hit == ""
        assert message in result.log[0], result.log
    assert not any(Path(runner.workspace).iterdir())


def test_nothing_after_the_end_of_archive_marker_is_extracted(store, runner, tmp_path) -> None:
    data = tar_bytes((info("fine"), b"1")) + tar_bytes((info("hidden"), b"2"))
    result = restore_raw(store, runner, tmp_path, data)
    assert result.cache_hit == "true"
    assert (Path(runner.workspace) / "fine").exists()
    assert not (Path(runner.workspace) / "hidden").exists()


# --- what must still restore -------------------------------------------------------------------


def test_outward_symlinks_and_odd_names_restore_exactly(store, runner, tmp_path, outside) -> None:
    venv = Path(runner.home) / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(outside / "file")  # points outside: legitimate
    (venv / "lib64").symlink_to("lib")
    write(venv / "lib" / "site.py", "import os\n")
    odd = [b"caf\xc3\xa9", b"latin\xe9", b"new\nline", b"a -> b", b"x link to y", b" lead"]
    for name in odd:
        Path(os.fsdecode(os.fsencode(venv / "lib") + b"/" + name)).write_bytes(name)
    arrow_target = os.fsdecode(b"../lib/a -> b")
    (venv / "bin" / "arrow -> link").symlink_to(arrow_target)
    os.link(venv / "lib" / "site.py", venv / "lib" / "hard link to site.py")
    before_tree = _tree(venv)
    assert action.save(store, runner, paths=["~/venv"], key="k").saved
    shutil.rmtree(venv)
    before = outside_state(tmp_path, Path(runner.root))
    result = action.restore(store, runner, paths=["~/venv"], primary_key="k")
    assert result.cache_hit == "true", result.log
    assert _tree(venv) == before_tree
    assert os.readlink(venv / "bin" / "python") == str(outside / "file")
    assert os.stat(venv / "lib" / "site.py").st_nlink == 2
    assert outside_state(tmp_path, Path(runner.root)) == before


def _tree(folder: Path) -> dict[bytes, tuple]:
    tree = {}
    base = os.fsencode(folder)
    for current, dirs, files in os.walk(base):
        for name in [*dirs, *files]:
            path = os.path.join(current, name)
            info_ = os.lstat(path)
            kind = stat.S_IFMT(info_.st_mode)
            if stat.S_ISLNK(info_.st_mode):
                tree[path] = (kind, os.readlink(path))
            elif stat.S_ISREG(info_.st_mode):
                tree[path] = (kind, Path(os.fsdecode(path)).read_bytes())
            else:
                tree[path] = (kind, b"")
    return tree


# --- the parser against tarfile, and the checks alone -------------------------------------------

_NAMES = st.lists(
    st.binary(min_size=1, max_size=150).filter(lambda b: b"\x00" not in b and b"/" not in b),
    min_size=1,
    max_size=4,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(names=_NAMES, fmt=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
def test_parser_reads_what_tarfile_wrote(names, fmt) -> None:
    entries = []
    for index, name in enumerate(names):
        text = os.fsdecode(b"d/" + name)
        if index % 3 == 1:
            entries.append(info(text, tarfile.SYMTYPE, os.fsdecode(name + b" -> x")))
        else:
            entries.append((info(text), name))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as archive:  # fmt: skip
        for entry in entries:
            item, data = entry if isinstance(entry, tuple) else (entry, None)
            if data is not None:
                item.size = len(data)
            archive.addfile(item, io.BytesIO(data) if data is not None else None)
    data = buffer.getvalue()
    parsed = []
    pos = 0
    while True:
        result = parse_entry(data, pos)
        assert result is not None
        member, start = result
        if member is None:
            break
        parsed.append((member.name, member.kind, member.link, member.size))
        pos = start + (-(-member.size // 512) * 512 if member.kind == FILE else 0)
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape") as tf:
        expected = [
            (os.fsencode(m.name), SYMLINK if m.issym() else FILE, os.fsencode(m.linkname), m.size)
            for m in tf.getmembers()
        ]
    assert parsed == expected


def test_pump_forwards_the_stream_unchanged_up_to_the_end_marker(tmp_path) -> None:
    data = tar_bytes(info("d", tarfile.DIRTYPE), (info("d/f"), os.urandom(300_000)))
    seen: list[Member] = []
    source_read, source_write = os.pipe()
    sink_read, sink_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child feeds the pipe
        os.close(source_read)
        os.write(source_write, data)
        os._exit(0)
    os.close(source_write)
    out = io.BytesIO()
    import threading

    def collect() -> None:
        while chunk := os.read(sink_read, 65536):
            out.write(chunk)

    reader = threading.Thread(target=collect)
    reader.start()
    assert pump(source_read, sink_write, seen.append) == 2
    os.close(sink_write)
    reader.join()
    os.waitpid(pid, 0)
    body = data.rstrip(b"\x00")
    assert out.getvalue().startswith(body)
    assert out.getvalue()[len(body) :].strip(b"\x00") == b""
    assert [(m.name, m.kind) for m in seen] == [(b"d/", DIRECTORY), (b"d/f", FILE)]


def test_confinement_rules(tmp_path) -> None:
    root = tmp_path / "root"
    workspace = root / "ws"
    workspace.mkdir(parents=True)
    check = Confinement(str(workspace), str(root)).check
    check(Member(b"ok/file", FILE))
    check(Member(b"../sibling", DIRECTORY))
    check(Member(b"bin/python", SYMLINK, b"/usr/bin/python3"))
    check(Member(b"hard", HARDLINK, b"ok/file"))
    for member in [
        Member(b"../../escape", FILE),
        Member(b"bin/python/x", FILE),
        Member(b"hl", HARDLINK, b"../../x"),
        Member(b"", FILE),
        Member(b"a/..", FILE),
        Member(b"file/", FILE),
    ]:
        with pytest.raises(ArchiveEscape):
            check(member)


def _fix_checksum(block: bytearray) -> None:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block[:512])


def _with_pax(entry: tarfile.TarInfo, headers: dict[str, str]) -> tuple[tarfile.TarInfo, bytes]:
    entry.pax_headers = headers
    return entry, b"d"

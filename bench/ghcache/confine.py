"""A restore that cannot write outside the runner's root, whatever the archive holds.

GNU tar still extracts, with the toolkit's flags, but it reads the decompressed archive from this
module rather than from the file: ``unzstd -c ARCHIVE | (this module) | tar -xf - -P -C WS``.
This module parses every tar header itself, checks the member it describes against the root,
and only then passes the header and the member's data on. tar therefore never reads a header
that was not checked, and nothing after the end-of-archive marker seen here (the marker tar gets
is written by this module). The parser accepts a strict subset of what GNU tar accepts, with the
same meaning for each accepted header (where it ends, the member's type, name, link target and
size), so both agree on every member; anything else (an unknown type, a global or sparse header,
a bad checksum, a malformed number or extended record) refuses the whole archive.

The rules (see docs/architecture.md): a member's name, resolved from the workspace (or from ``/``
when absolute), must land inside the root, and every folder on the way must be a real folder:
neither a symbolic link the archive made earlier nor one already on disk. Symbolic links may point
anywhere (a venv's ``bin/python`` points outside); a hard link's target must resolve inside the
root the same way. Device nodes and FIFOs are refused. Names are bytes: any byte but NUL.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from bench.errors import BenchError

BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)
READ_SIZE = 1 << 20
SPLICE_AT_LEAST = 1 << 16  # data this long that is not read yet moves pipe to pipe in the kernel
MAX_EXTENDED = 1 << 20  # a larger extended header (pax records, GNU long name) is refused

FILE, DIRECTORY, SYMLINK, HARDLINK = "file", "directory", "symbolic link", "hard link"
_MEMBER_TYPES = {
    ord("0"): FILE,
    0: FILE,
    ord("5"): DIRECTORY,
    ord("2"): SYMLINK,
    ord("1"): HARDLINK,
}
_REFUSED_TYPES = {
    ord("3"): "a character device",
    ord("4"): "a block device",
    ord("6"): "a FIFO",
    ord("7"): "a contiguous file",
    ord("g"): "a global extended header",
    ord("S"): "a sparse file",
    ord("D"): "a dump directory",
    ord("M"): "a multi-volume continuation",
    ord("V"): "a volume label",
}
_PAX, _LONG_NAME, _LONG_LINK = ord("x"), ord("L"), ord("K")
_POSIX_MAGIC, _GNU_MAGIC = b"ustar\x00", b"ustar  \x00"
_OCTAL = re.compile(rb" *([0-7]+)[ \x00]*")
_RECORD_LENGTH = re.compile(rb"([1-9][0-9]*) ")


class ArchiveError(BenchError):
    """tar failed, or an archive is unreadable."""


class ArchiveEscape(ArchiveError):
    """A member would be written outside the runner's root (or the archive cannot be trusted)."""


@dataclass(frozen=True)
class Member:
    name: bytes
    kind: str  # FILE, DIRECTORY, SYMLINK or HARDLINK
    link: bytes = b""
    size: int = 0


# --- the header parser ----------------------------------------------------------------------


def parse_entry(data: bytes, pos: int) -> tuple[Member | None, int] | None:
    """The member whose headers start at ``data[pos]`` and the offset where its data starts.

    ``(None, pos)`` at the end-of-archive marker; ``None`` when ``data`` ends too early.
    """
    pax: dict[bytes, bytes] = {}
    long_name: bytes | None = None
    long_link: bytes | None = None
    extended = seen_pax = False
    while True:
        if len(data) - pos < BLOCK:
            return None
        block = data[pos : pos + BLOCK]
        total = _unsigned_sum(block)
        if total == 8 * 32:  # GNU tar's zero block: all zero but the checksum field
            if extended:
                raise ArchiveEscape("the archive has an extended header with no member after it")
            return None, pos
        _verify(block, total)
        size = _number(block[124:136], "size")
        typeflag = block[156]
        if typeflag in (_PAX, _LONG_NAME, _LONG_LINK):
            if size > MAX_EXTENDED:
                raise ArchiveEscape(f"the archive has an extended header of {size} bytes")
            end = pos + BLOCK + _padded(size)
            if len(data) < end:
                return None
            payload = data[pos + BLOCK : pos + BLOCK + size]
            if typeflag == _PAX:
                if seen_pax:
                    raise ArchiveEscape("the archive has two extended headers for one member")
                pax = _pax_records(payload)
                seen_pax = True
            elif typeflag == _LONG_NAME:
                if long_name is not None:
                    raise ArchiveEscape("the archive has two long names for one member")
                long_name = payload.split(b"\x00", 1)[0]
            else:
                if long_link is not None:
                    raise ArchiveEscape("the archive has two long link names for one member")
                long_link = payload.split(b"\x00", 1)[0]
            extended = True
            pos = end
            continue
        name = _ustar_name(block)
        if b"path" in pax:
            if long_name is not None:
                raise ArchiveEscape(f"archive member {show(name)} has two long names")
            name = pax[b"path"]
        elif long_name is not None:
            name = long_name
        link = block[157:257].split(b"\x00", 1)[0]
        if b"linkpath" in pax:
            if long_link is not None:
                raise ArchiveEscape(f"archive member {show(name)} has two long link names")
            link = pax[b"linkpath"]
        elif long_link is not None:
            link = long_link
        if b"size" in pax:
            size = int(pax[b"size"])
        kind = _MEMBER_TYPES.get(typeflag)
        if kind is None:
            what = _REFUSED_TYPES.get(typeflag, f"of unknown type {chr(typeflag)!r}")
            raise ArchiveEscape(f"archive member {show(name)} is {what}; refusing to extract it")
        if kind != FILE and size:
            raise ArchiveEscape(f"archive member {show(name)} is a {kind} with data")
        return Member(name=name, kind=kind, link=link, size=size), pos + BLOCK


def _unsigned_sum(block: bytes) -> int:
    """The header's unsigned byte sum with the checksum field counted as spaces, as tar
    computes it; adler32 of at most 256 bytes is 1 + their exact sum in its low half."""
    return (
        (zlib.adler32(block[:148]) & 0xFFFF)
        + (zlib.adler32(block[156:412]) & 0xFFFF)
        + (zlib.adler32(block[412:]) & 0xFFFF)
        - 3
        + 8 * 32
    )


def _verify(block: bytes, total: int) -> None:
    if block[257:263] != _POSIX_MAGIC and block[257:265] != _GNU_MAGIC:
        raise ArchiveEscape("the archive has a header that is neither POSIX nor GNU tar's")
    if total != _number(block[148:156], "checksum"):
        raise ArchiveEscape("the archive has a header whose checksum is wrong")


def _number(field: bytes, what: str) -> int:
    if field[0] == 0x80:  # GNU tar's base-256 form, positive
        return int.from_bytes(field[1:], "big")
    found = _OCTAL.fullmatch(field)
    if found is None:
        raise ArchiveEscape(f"the archive has a header with a malformed {what} field")
    return int(found.group(1), 8)


def _ustar_name(block: bytes) -> bytes:
    name = block[:100].split(b"\x00", 1)[0]
    if block[257:263] == _POSIX_MAGIC and block[345] != 0:
        return block[345:500].split(b"\x00", 1)[0] + b"/" + name
    return name


def _pax_records(payload: bytes) -> dict[bytes, bytes]:
    """The pax records that change where a member goes or how long it is; others are ignored.

    GNU tar reads ``path``, ``linkpath`` and ``size`` (and its own ``GNU.*`` keys, refused here)
    to place a member; atime, mtime, xattrs and the like do not.
    """
    if b"path=" not in payload and b"size=" not in payload and b"GNU." not in payload:
        return {}
    records: dict[bytes, bytes] = {}
    rest = payload.rstrip(b"\x00")
    while rest:
        found = _RECORD_LENGTH.match(rest)
        length = int(found.group(1)) if found else 0
        record = rest[:length]
        if not found or len(record) < length or not record.endswith(b"\n"):
            raise ArchiveEscape("the archive has a malformed pax record")
        key, equals, value = record[found.end() : -1].partition(b"=")
        if not equals:
            raise ArchiveEscape("the archive has a pax record without '='")
        if key.startswith(b"GNU."):
            raise ArchiveEscape(f"the archive uses GNU tar's pax key {show(key)}")
        if key in (b"path", b"linkpath", b"size"):
            if key in records or not value or b"\x00" in value:
                raise ArchiveEscape(f"the archive has a repeated or empty pax {show(key)}")
            if key == b"size" and not value.isdigit():
                raise ArchiveEscape(f"the archive has a malformed pax size {show(value)}")
            records[key] = value
        rest = rest[length:]
    return records


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def show(name: bytes) -> str:
    """A name for a one-line message: UTF-8 where it is, escapes for the rest."""
    text = name.decode("utf-8", "backslashreplace")
    return "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) + "'"


# --- the checks -----------------------------------------------------------------------------


class Confinement:
    """Decides, member by member in archive order, whether tar may extract it.

    Paths are resolved as the kernel will resolve them for tar: from the workspace's real path,
    ``..`` going to the real parent, which holds because every folder passed through is checked
    to be a real folder (or one the archive made as such).
    """

    def __init__(self, workspace: str, root: str) -> None:
        self.root = os.fsencode(os.path.realpath(root))
        self.start = os.fsencode(os.path.realpath(workspace))
        self.made: dict[bytes, str] = {}  # resolved path -> kind, for what the archive made
        self.folders: dict[bytes, bytes] = {}  # a name's folder part -> its checked real path

    def check(self, member: Member) -> None:
        name = member.name
        if member.kind == DIRECTORY:
            name = name.rstrip(b"/") or name
        elif name.endswith(b"/"):
            raise self._refuse(member, "is not a directory but its name ends in '/'")
        if not name:
            raise self._refuse(member, "has an empty name")
        landing = self._resolve(name, member)
        if not self._inside(landing) and not (member.kind == DIRECTORY and landing == self.root):
            raise self._refuse(
                member, f"would be written to {show(landing)}, outside the runner root"
            )
        kind = member.kind
        if kind == DIRECTORY and self._kind(landing) == SYMLINK:
            raise self._refuse(member, f"is a directory over the symbolic link {show(landing)}")
        if kind == SYMLINK and self.made.get(landing) == DIRECTORY:
            raise self._refuse(
                member, "replaces a directory of the same archive by a symbolic link"
            )
        if kind == HARDLINK:
            if not member.link:
                raise self._refuse(member, "is a hard link to nothing")
            target = self._resolve(member.link, member, f"is a hard link to {show(member.link)}")
            if not self._inside(target):
                raise self._refuse(
                    member, f"is a hard link to {show(target)}, outside the runner root"
                )
            kind = SYMLINK if self._kind(target) == SYMLINK else FILE
        self.made[landing] = kind
        if kind == SYMLINK:
            self.folders.clear()  # a folder checked before may now be reached through a link

    def _resolve(self, name: bytes, member: Member, subject: str = "would be written") -> bytes:
        cut = name.rfind(b"/") + 1
        folder_part, last = name[:cut], name[cut:]
        folder = self.folders.get(folder_part)
        if folder is None:
            folder = self._walk(folder_part, member, subject)
            self.folders[folder_part] = folder
        if last == b"..":
            raise self._refuse(member, f"{subject} to a name ending in '..'")
        if last in (b"", b"."):
            return folder
        return folder + b"/" + last if folder != b"/" else b"/" + last

    def _walk(self, folder_part: bytes, member: Member, subject: str) -> bytes:
        current = b"/" if folder_part.startswith(b"/") else self.start
        for part in folder_part.split(b"/"):
            if part in (b"", b"."):
                continue
            if part == b"..":
                current = os.path.dirname(current)
                continue
            current = current + b"/" + part if current != b"/" else b"/" + part
            if self._inside(current):
                if self._kind(current) == SYMLINK:
                    raise self._refuse(
                        member, f"{subject} through the symbolic link {show(current)}"
                    )
            elif not (current == self.root or self.root.startswith(current + b"/")):
                raise self._refuse(
                    member, f"{subject} through {show(current)}, outside the runner root"
                )
        return current

    def _kind(self, path: bytes) -> str | None:
        made = self.made.get(path)
        if made is not None:
            return made
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return SYMLINK
        return DIRECTORY if stat.S_ISDIR(mode) else FILE

    def _inside(self, path: bytes) -> bool:
        return path.startswith(self.root + b"/") if self.root != b"/" else path != b"/"

    def _refuse(self, member: Member, why: str) -> ArchiveEscape:
        return ArchiveEscape(
            f"archive member {show(member.name)} ({member.kind}) {why}; refusing to extract "
            f"(the runner root is {show(self.root)})"
        )


# --- the gate between the decompressor and tar ----------------------------------------------


def pump(source: int, sink: int, check: Callable[[Member], None]) -> int:
    """Pass the tar stream from ``source`` to ``sink``, each member only after ``check``.

    Returns the number of members. Raises ArchiveEscape on a refused member or a header this
    parser does not accept, and ArchiveError on a stream that ends early; in both cases nothing
    of the refused member (nor anything after it) has reached ``sink``.
    """
    data = b""
    pos = sent = need = members = 0
    while True:
        if need:
            step = min(need, len(data) - pos)
            pos += step
            need -= step
        while not need:
            try:
                parsed = parse_entry(data, pos)
                if parsed is not None and parsed[0] is not None:
                    check(parsed[0])
            except ArchiveError:
                with contextlib.suppress(BrokenPipeError):  # the members checked before it
                    _write_all(sink, memoryview(data)[sent:pos])
                raise
            if parsed is None:
                break
            member, start = parsed
            if member is None:
                _write_all(sink, memoryview(data)[sent:pos])
                _write_all(sink, END_OF_ARCHIVE)
                _drain(source)
                return members
            members += 1
            pos = start
            need = _padded(member.size) if member.kind == FILE else 0
            step = min(need, len(data) - pos)
            pos += step
            need -= step
        _write_all(sink, memoryview(data)[sent:pos])
        sent = pos
        if need >= SPLICE_AT_LEAST and pos == len(data):
            need -= _splice(source, sink, need)
            if need:
                raise ArchiveError("the archive ends in the middle of a member")
            continue
        chunk = os.read(source, READ_SIZE)
        if not chunk:
            where = "in the middle of a member" if need else "before its end-of-archive marker"
            raise ArchiveError(f"the archive ends {where}")
        data = data[pos:] + chunk
        pos = sent = 0


def _write_all(sink: int, view: memoryview) -> None:
    while view:
        written = os.write(sink, view)
        view = view[written:]


def _splice(source: int, sink: int, count: int) -> int:
    moved = 0
    while moved < count:
        step = os.splice(source, sink, count - moved)
        if step == 0:
            break
        moved += step
    return moved


def _drain(source: int) -> None:
    while os.read(source, READ_SIZE):
        pass

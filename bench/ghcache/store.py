"""The cache service's storage: archive files plus an SQLite index.

An entry is identified by (scope, key, version) and is immutable. It becomes visible only once
its archive is completely in place: reserve (a row no lookup sees) -> move the archive into a
temporary name -> rename -> mark complete. Lookups follow the service's rules (scopes outer,
keys inner; exact key first, else the newest entry whose key starts with it; case-insensitive).
Entries not accessed for 7 days are removed, and when the total size passes the limit the least
recently accessed go first.

Faults leave the store usable: a failed commit (a full disk) removes its files before its row;
files and reservations of a process that died (kill -9) are taken over by the next save or
listing; a store that cannot be written (permissions, a read-only mount) can still be listed and
restored from, and a save there is refused with one message. SQLite errors become StoreError.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.ghcache.clock import NS_PER_SECOND, Clock, SystemClock

DEFAULT_LIMIT_BYTES = 10 * 1000**3  # 10 GB per repository, as GitHub documents it
MAX_IDLE_NS = 7 * 24 * 3600 * NS_PER_SECOND
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     TEXT NOT NULL,
    compression TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('reserved', 'complete')),
    owner_pid   INTEGER NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0,
    created_ns  INTEGER NOT NULL,
    accessed_ns INTEGER NOT NULL,
    UNIQUE (scope, key, version)
);
CREATE INDEX IF NOT EXISTS entries_lookup ON entries (scope, version, state);
"""


class ReserveError(BenchError):
    """Another job holds (or has saved) this key."""


class StoreError(BenchError):
    """The store cannot be read or written (damaged index, full disk, read-only folder)."""


@dataclass(frozen=True)
class Entry:
    id: int
    scope: str
    key: str
    version: str
    compression: str
    size: int
    created_ns: int
    accessed_ns: int
    archive: Path
    listing: Path


@dataclass(frozen=True)
class Reservation:
    id: int
    scope: str
    key: str
    version: str
    compression: str


class CacheStore:
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        limit_bytes: int = DEFAULT_LIMIT_BYTES,
        clock: Clock | None = None,
    ) -> None:
        if limit_bytes <= 0:
            raise BenchError(f"the store's size limit must be positive, not {limit_bytes}")
        self.root = Path(root).absolute()
        self.limit_bytes = limit_bytes
        self.clock = clock or SystemClock()
        self.archives = self.root / "archives"
        self.temp = self.root / "tmp"
        self.index = self.root / "index.sqlite"
        if self.root.exists() and not self.root.is_dir():
            raise BenchError(f"the cache store {self.root} is a file; give a folder")
        self.writable = self._prepare()

    def _prepare(self) -> bool:
        """Make the layout and schema where they are missing; False for a read-only store."""
        with contextlib.suppress(OSError):  # a read-only store has them already
            self.archives.mkdir(parents=True, exist_ok=True)
            self.temp.mkdir(exist_ok=True)
        writable = all(
            os.access(path, os.W_OK)
            for path in (self.root, self.archives, self.temp, self.index)
            if path.exists()
        )
        if self.index.is_file():
            self.writable = writable
            with self._read() as db:
                tables = db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'entries'"
                ).fetchall()
            if tables:
                return writable
        if not writable or not self.archives.is_dir():
            raise StoreError(
                f"cannot create the cache store in {self.root}: the folder is not writable; "
                "give a writable --store"
            )
        self.writable = True
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return True

    # -- reading ---------------------------------------------------------------------------

    def lookup(self, keys: list[str], version: str, scopes: list[str]) -> Entry | None:
        """The entry a restore with these keys gets, marking it accessed; None on a miss.

        Expiry and the access time are best effort: a read-only or full store still restores.
        """
        with contextlib.suppress(StoreError, OSError):
            if self.writable:
                self.expire()
        found = None
        with self._read() as db:
            for scope in _unique(scopes):
                rows = db.execute(
                    "SELECT * FROM entries WHERE scope = ? AND version = ? AND state = 'complete'"
                    " ORDER BY created_ns DESC, id DESC",
                    (scope, version),
                ).fetchall()
                found = next(
                    (row for key in keys if (row := _best_match(rows, key)) is not None), None
                )
                if found is not None:
                    break
        return None if found is None else self._touched(found)

    def _touched(self, row: sqlite3.Row) -> Entry:
        now = self.clock.now_ns()
        if self.writable:
            with contextlib.suppress(StoreError):
                with self._transaction() as db:
                    db.execute("UPDATE entries SET accessed_ns = ? WHERE id = ?", (now, row["id"]))
                return self._entry(row, accessed_ns=now)
        return self._entry(row)

    def entries(self) -> list[Entry]:
        """Complete entries, oldest first (after taking over what dead savers left)."""
        self.recover()
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM entries WHERE state = 'complete' ORDER BY created_ns, id"
            ).fetchall()
        return [self._entry(row) for row in rows]

    def scratch(self, purpose: str) -> Path:
        """A new folder name in the store's temp for this process (made by the caller).

        The process id in the name lets a later save or listing remove it if this process dies.
        """
        return self.temp / f"{purpose}-{os.getpid()}-{uuid.uuid4().hex}"

    def recover(self) -> None:
        """Remove reservations, partial files and scratch folders whose owner process is dead.

        Best effort: a read-only store is left as it is.
        """
        if not self.writable:
            return
        with contextlib.suppress(StoreError, OSError):
            with self._transaction() as db:
                rows = db.execute("SELECT * FROM entries WHERE state = 'reserved'").fetchall()
                dead = [row for row in rows if not _alive(row["owner_pid"])]
                db.executemany("DELETE FROM entries WHERE id = ?", [(r["id"],) for r in dead])
                live = {row["id"] for row in rows} - {row["id"] for row in dead}
            for row in dead:
                self._remove_files(row["id"], row["compression"])
            for path in self.temp.iterdir():
                if path.name.endswith(".partial"):
                    owner = path.name.split(".", 1)[0]
                    if not (owner.isdigit() and int(owner) in live):
                        path.unlink(missing_ok=True)
                elif not _alive(_scratch_owner(path.name)):
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)

    # -- writing ---------------------------------------------------------------------------

    def reserve(self, scope: str, key: str, version: str, compression: str) -> Reservation:
        self.require_writable()
        now = self.clock.now_ns()
        message = f"Unable to reserve cache with key {key}, another job may be creating this cache."
        with self._transaction() as db:
            existing = db.execute(
                "SELECT * FROM entries WHERE scope = ? AND key = ? AND version = ?",
                (scope, key, version),
            ).fetchone()
            if existing is not None:
                if existing["state"] == "complete" or _alive(existing["owner_pid"]):
                    raise ReserveError(message)
                db.execute("DELETE FROM entries WHERE id = ?", (existing["id"],))
            cursor = db.execute(
                "INSERT INTO entries (scope, key, version, compression, state, owner_pid,"
                " created_ns, accessed_ns) VALUES (?, ?, ?, ?, 'reserved', ?, ?, ?)",
                (scope, key, version, compression, os.getpid(), now, now),
            )
            entry_id = cursor.lastrowid
        assert entry_id is not None
        return Reservation(entry_id, scope, key, version, compression)

    def commit(
        self,
        reservation: Reservation,
        archive: Path,
        listing: str,
        upload: Callable[[Path, Path], object] | None = None,
    ) -> Entry:
        """Move ``archive`` into the store and make the entry visible; then evict.

        ``upload(source, destination)`` copies the archive in instead of a rename (to pace it).
        """
        final_archive, final_listing = self._paths(reservation.id, reservation.compression)
        partial_archive = self.temp / (final_archive.name + ".partial")
        partial_listing = self.temp / (final_listing.name + ".partial")
        try:
            if upload is None:
                shutil.move(archive, partial_archive)
            else:
                upload(archive, partial_archive)
            partial_listing.write_text(listing, encoding="ascii", errors="replace")
            size = partial_archive.stat().st_size
            os.replace(partial_listing, final_listing)
            os.replace(partial_archive, final_archive)
            now = self.clock.now_ns()
            with self._transaction() as db:
                db.execute(
                    "UPDATE entries SET state = 'complete', size = ?, created_ns = ?,"
                    " accessed_ns = ? WHERE id = ?",
                    (size, now, now, reservation.id),
                )
        except BaseException:
            self.abandon(reservation)
            raise
        with contextlib.suppress(StoreError):  # the entry is saved; tidying can wait
            self.expire()
            self.evict_over_limit(keep=reservation.id)
        with self._read() as db:
            row = db.execute("SELECT * FROM entries WHERE id = ?", (reservation.id,)).fetchone()
        if row is None:
            raise BenchError(f"entry {reservation.key} vanished right after it was saved")
        return self._entry(row)

    def abandon(self, reservation: Reservation) -> None:
        """Drop a reservation whose archive will not come: its files first (that frees a full
        disk), then its row (best effort: a row left behind is taken over by ``recover``)."""
        self._remove_files(reservation.id, reservation.compression)
        with contextlib.suppress(StoreError), self._transaction() as db:
            db.execute("DELETE FROM entries WHERE id = ? AND state = 'reserved'", (reservation.id,))

    def require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"the cache store {self.root} is read-only; nothing can be saved")

    def _remove_files(self, entry_id: int, compression: str) -> None:
        for path in self._paths(entry_id, compression):
            for candidate in (path, self.temp / (path.name + ".partial")):
                with contextlib.suppress(OSError):
                    candidate.unlink(missing_ok=True)

    def expire(self) -> list[Entry]:
        """Remove entries not accessed for 7 days."""
        cutoff = self.clock.now_ns() - MAX_IDLE_NS
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM entries WHERE state = 'complete' AND accessed_ns < ?", (cutoff,)
            ).fetchall()
            db.executemany("DELETE FROM entries WHERE id = ?", [(r["id"],) for r in rows])
        return self._delete_files(rows)

    def evict_over_limit(self, keep: int | None = None) -> list[Entry]:
        """Remove least recently accessed entries until the total is within the limit."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM entries WHERE state = 'complete' ORDER BY accessed_ns ASC, id ASC"
            ).fetchall()
            total = sum(row["size"] for row in rows)
            victims = []
            for row in rows:
                if total <= self.limit_bytes:
                    break
                if row["id"] == keep:
                    continue
                victims.append(row)
                total -= row["size"]
            db.executemany("DELETE FROM entries WHERE id = ?", [(r["id"],) for r in victims])
        return self._delete_files(victims)

    # -- internals -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taken at once, so that two savers never interleave)."""
        if not self.writable:
            raise StoreError(f"the cache store {self.root} is read-only")
        try:
            db = sqlite3.connect(self.index, timeout=60, isolation_level=None)
        except sqlite3.Error as error:
            raise self._failed(error) from None
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._failed(error) from None
        finally:
            db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction; on a read-only store the index is opened read-only (and, when a
        crashed writer left a journal it cannot roll back, as immutable)."""
        db = None
        try:
            if self.writable:
                db = sqlite3.connect(self.index, timeout=60, isolation_level=None)
            else:
                db = _connect_read_only(self.index)
            db.row_factory = sqlite3.Row
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._failed(error) from None
        finally:
            if db is not None:
                db.close()

    def _failed(self, error: sqlite3.Error) -> StoreError:
        text = str(error)
        if isinstance(error, sqlite3.DatabaseError) and "not a database" in text:
            return StoreError(
                f"the cache store's index {self.index} is damaged ({text}); remove the store "
                "folder to start an empty one"
            )
        if "disk is full" in text or "disk I/O error" in text:
            return StoreError(f"the cache store {self.root} cannot be written: {text}")
        return StoreError(f"the cache store {self.root} failed: {text}")

    def _paths(self, entry_id: int, compression: str) -> tuple[Path, Path]:
        suffix = "tzst" if compression.startswith("zstd") else "tgz"
        return self.archives / f"{entry_id}.{suffix}", self.archives / f"{entry_id}.members"

    def _entry(self, row: sqlite3.Row, accessed_ns: int | None = None) -> Entry:
        archive, listing = self._paths(row["id"], row["compression"])
        return Entry(
            id=row["id"],
            scope=row["scope"],
            key=row["key"],
            version=row["version"],
            compression=row["compression"],
            size=row["size"],
            created_ns=row["created_ns"],
            accessed_ns=row["accessed_ns"] if accessed_ns is None else accessed_ns,
            archive=archive,
            listing=listing,
        )

    def _delete_files(self, rows: list[sqlite3.Row]) -> list[Entry]:
        gone = [self._entry(row) for row in rows]
        for entry in gone:
            self._remove_files(entry.id, entry.compression)
        return gone


def _best_match(rows: list[sqlite3.Row], key: str) -> sqlite3.Row | None:
    """Exact key (case-insensitive) first, else the newest whose key starts with ``key``.

    ``rows`` come newest first.
    """
    wanted = key.casefold()
    for row in rows:
        if row["key"].casefold() == wanted:
            return row
    for row in rows:
        if row["key"].casefold().startswith(wanted):
            return row
    return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _connect_read_only(index: Path) -> sqlite3.Connection:
    uri = index.absolute().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, isolation_level=None)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db.close()
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    return db


def _scratch_owner(name: str) -> int:
    """The process id in a scratch folder's name (``purpose-pid-hex``); 0 when there is none."""
    parts = name.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

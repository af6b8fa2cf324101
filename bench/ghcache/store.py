"""The cache service's storage: archive files plus an SQLite index.

An entry is identified by (scope, key, version) and is immutable. It becomes visible only once
its archive is completely in place: reserve (a row no lookup sees) -> move the archive into a
temporary name -> rename -> mark complete. Lookups follow the service's rules (scopes outer,
keys inner; exact key first, else the newest entry whose key starts with it; case-insensitive).
Entries not accessed for 7 days are removed, and when the total size passes the limit the least
recently accessed go first.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
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
        self.root = Path(root)
        self.limit_bytes = limit_bytes
        self.clock = clock or SystemClock()
        self.archives = self.root / "archives"
        self.temp = self.root / "tmp"
        if self.root.exists() and not self.root.is_dir():
            raise BenchError(f"the cache store {self.root} is a file; give a folder")
        self.archives.mkdir(parents=True, exist_ok=True)
        self.temp.mkdir(exist_ok=True)
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- reading ---------------------------------------------------------------------------

    def lookup(self, keys: list[str], version: str, scopes: list[str]) -> Entry | None:
        """The entry a restore with these keys gets, marking it accessed; None on a miss."""
        self.expire()
        with self._transaction() as db:
            for scope in _unique(scopes):
                rows = db.execute(
                    "SELECT * FROM entries WHERE scope = ? AND version = ? AND state = 'complete'"
                    " ORDER BY created_ns DESC, id DESC",
                    (scope, version),
                ).fetchall()
                for key in keys:
                    found = _best_match(rows, key)
                    if found is not None:
                        now = self.clock.now_ns()
                        db.execute(
                            "UPDATE entries SET accessed_ns = ? WHERE id = ?", (now, found["id"])
                        )
                        return self._entry(found, accessed_ns=now)
        return None

    def entries(self) -> list[Entry]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM entries WHERE state = 'complete' ORDER BY created_ns, id"
            ).fetchall()
        return [self._entry(row) for row in rows]

    # -- writing ---------------------------------------------------------------------------

    def reserve(self, scope: str, key: str, version: str, compression: str) -> Reservation:
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
        except BaseException:
            self.abandon(reservation)
            raise
        now = self.clock.now_ns()
        with self._transaction() as db:
            db.execute(
                "UPDATE entries SET state = 'complete', size = ?, created_ns = ?, accessed_ns = ?"
                " WHERE id = ?",
                (size, now, now, reservation.id),
            )
        self.expire()
        self.evict_over_limit(keep=reservation.id)
        with self._transaction() as db:
            row = db.execute("SELECT * FROM entries WHERE id = ?", (reservation.id,)).fetchone()
        if row is None:
            raise BenchError(f"entry {reservation.key} vanished right after it was saved")
        return self._entry(row)

    def abandon(self, reservation: Reservation) -> None:
        """Drop a reservation whose archive will not come (its files too, if any)."""
        with self._transaction() as db:
            db.execute("DELETE FROM entries WHERE id = ? AND state = 'reserved'", (reservation.id,))
        archive, listing = self._paths(reservation.id, reservation.compression)
        for path in (archive, listing):
            for candidate in (path, self.temp / (path.name + ".partial")):
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
        db = sqlite3.connect(self.root / "index.sqlite", timeout=60, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

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
            entry.archive.unlink(missing_ok=True)
            entry.listing.unlink(missing_ok=True)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

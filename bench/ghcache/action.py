"""What the ``actions/cache`` steps do: restore (main step) and save (post step or cache/save).

The functions return what the step logs and outputs instead of printing, so the CLI, the workflow
runner and the tests can all use them. Messages are the action's own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.errors import BenchError
from bench.ghcache.archive import (
    create_archive,
    extract_archive,
    list_archive,
    resolve_cache_paths,
)
from bench.ghcache.keys import (
    ValidationError,
    cache_version,
    check_key,
    check_keys,
    check_paths,
    detect_compression,
    is_exact_key_match,
)
from bench.ghcache.store import CacheStore, Entry, ReserveError, StoreError
from bench.network.shaping import paced_copy
from bench.network.transfer import DIRECT, Transfer

DEFAULT_SCOPE = "refs/heads/main"


def search_scopes(ref: str, default_branch: str = "main") -> list[str]:
    """Where a restore looks, in order: the ref being built, then the default branch."""
    return [ref, f"refs/heads/{default_branch}"]


@dataclass(frozen=True)
class Runner:
    """Where a cache step runs: the paths it sees and the root it must not write outside."""

    workspace: str
    home: str
    temp: str
    root: str
    path_env: str | None = None  # PATH, to decide zstd or gzip as the toolkit does

    @classmethod
    def for_workspace(
        cls,
        workspace: str | os.PathLike[str],
        *,
        home: str | os.PathLike[str] | None = None,
        root: str | os.PathLike[str] | None = None,
        temp: str | os.PathLike[str] | None = None,
    ) -> Runner:
        workspace_abs = os.path.abspath(workspace)
        home_abs = os.path.abspath(home if home is not None else os.path.expanduser("~"))
        root_abs = (
            os.path.abspath(root)
            if root is not None
            else os.path.commonpath([workspace_abs, home_abs])
        )
        return cls(
            workspace=workspace_abs,
            home=home_abs,
            temp=os.path.abspath(temp) if temp is not None else tempfile.gettempdir(),
            root=root_abs,
            path_env=os.environ.get("PATH"),
        )


@dataclass
class StepLog:
    lines: list[str] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warning(self, message: str) -> None:
        self.lines.append(f"Warning: {message}")


@dataclass(frozen=True)
class RestoreResult:
    cache_hit: str  # "true", "false", or "" on a miss, as the action's output
    primary_key: str
    matched_key: str
    failed: bool  # the step fails (validation, fail-on-cache-miss)
    log: list[str]
    entry: Entry | None = None


@dataclass(frozen=True)
class SaveResult:
    saved: bool
    log: list[str]
    entry: Entry | None = None


def restore(
    store: CacheStore,
    runner: Runner,
    *,
    paths: list[str],
    primary_key: str,
    restore_keys: Sequence[str] = (),
    scopes: Sequence[str] = (DEFAULT_SCOPE,),
    lookup_only: bool = False,
    fail_on_cache_miss: bool = False,
    compression: str | None = None,
    transfer: Transfer = DIRECT,
) -> RestoreResult:
    log = StepLog()
    primary_key = primary_key.strip()
    restore_keys = list(restore_keys)

    def outcome(hit: str, matched: str, failed: bool, entry: Entry | None = None) -> RestoreResult:
        return RestoreResult(hit, primary_key, matched, failed, log.lines, entry)

    try:
        if not primary_key:
            raise ValidationError("Input required and not supplied: key")
        check_paths(paths)
        check_keys(primary_key, restore_keys)
    except ValidationError as error:
        log.info(f"Error: {error}")
        return outcome("", "", failed=True)

    method = compression or detect_compression(runner.path_env)
    version = cache_version(paths, method)
    try:
        entry = store.lookup([primary_key, *restore_keys], version, list(scopes))
    except StoreError as error:
        log.warning(f"Failed to restore: {error}")
        entry = None
    if entry is not None and not lookup_only:
        try:
            _download_and_extract(entry, runner, transfer)
        except (BenchError, OSError) as error:
            log.warning(f"Failed to restore: {error}")
            entry = None
    if entry is None:
        if fail_on_cache_miss:
            log.info(
                "Error: Failed to restore cache entry. Exiting as fail-on-cache-miss is set. "
                f"Input key: {primary_key}"
            )
            return outcome("", "", failed=True)
        keys = ", ".join([primary_key, *restore_keys])
        log.info(f"Cache not found for input keys: {keys}")
        return outcome("", "", failed=False)
    if lookup_only:
        log.info(f"Cache found and can be restored from key: {entry.key}")
    else:
        log.info(f"Cache Size: ~{round(entry.size / 1024**2)} MB ({entry.size} B)")
        log.info(f"Cache restored from key: {entry.key}")
    hit = "true" if is_exact_key_match(primary_key, entry.key) else "false"
    return outcome(hit, entry.key, failed=False, entry=entry)


def _download_and_extract(entry: Entry, runner: Runner, transfer: Transfer) -> None:
    try:
        actual = entry.archive.stat().st_size
    except FileNotFoundError:
        raise BenchError(f"the archive of {entry.key} is missing from the store") from None
    if actual != entry.size:
        raise BenchError(
            f"Incomplete download. Expected file size: {entry.size}, actual file size: {actual}"
        )
    if not transfer.shapes_download:
        extract_archive(
            entry.archive,
            workspace=runner.workspace,
            root=runner.root,
            compression=entry.compression,
        )
        return
    download_dir = Path(runner.temp) / str(uuid.uuid4())
    download_dir.mkdir(parents=True)
    try:
        local = download_dir / entry.archive.name
        paced_copy(
            entry.archive, local, transfer.download_bytes_per_s, transfer.download_overhead_s
        )
        extract_archive(
            local, workspace=runner.workspace, root=runner.root, compression=entry.compression
        )
    finally:
        shutil.rmtree(download_dir, ignore_errors=True)


def save(
    store: CacheStore,
    runner: Runner,
    *,
    paths: list[str],
    key: str,
    scope: str = DEFAULT_SCOPE,
    restored_key: str | None = None,
    compression: str | None = None,
    transfer: Transfer = DIRECT,
) -> SaveResult:
    """The post step: ``restored_key`` is what the restore matched (None for cache/save)."""
    log = StepLog()
    key = key.strip()
    if not key:
        log.warning("Key is not specified.")
        return SaveResult(False, log.lines)
    if is_exact_key_match(key, restored_key):
        log.info(f"Cache hit occurred on the primary key {key}, not saving cache.")
        return SaveResult(False, log.lines)
    try:
        check_paths(paths)
        check_key(key)
    except ValidationError as error:
        log.warning(str(error))
        return SaveResult(False, log.lines)

    method = compression or detect_compression(runner.path_env)
    version = cache_version(paths, method)
    if not store.writable:
        log.warning(f"Failed to save: the cache store {store.root} is read-only")
        return SaveResult(False, log.lines)
    try:
        manifest = resolve_cache_paths(paths, workspace=runner.workspace, home=runner.home)
    except OSError as error:
        log.warning(f"Failed to save: {error}")
        return SaveResult(False, log.lines)
    if not manifest:
        log.warning(
            "Path Validation Error: Path(s) specified in the action for caching do(es) not "
            "exist, hence no cache is being saved."
        )
        return SaveResult(False, log.lines)
    store.recover()
    # The archive is made inside the store's temp: a save killed midway leaves it where the
    # next save or listing removes it.
    temp_dir = store.scratch("save")
    try:
        archive = create_archive(
            manifest, workspace=runner.workspace, temp_dir=temp_dir, compression=method
        )
        log.info(f"Cache Size: ~{round(archive.size / 1024**2)} MB ({archive.size} B)")
        try:
            reservation = store.reserve(scope, key, version, method)
        except ReserveError as error:
            log.info(str(error))
            return SaveResult(False, log.lines)
        upload = None
        if transfer.shapes_upload:
            upload = partial(
                paced_copy,
                bytes_per_s=transfer.upload_bytes_per_s,
                overhead_s=transfer.upload_overhead_s,
            )
        entry = store.commit(reservation, archive.path, archive.listing, upload=upload)
    except StoreError as error:
        log.warning(f"Failed to save: {error}")
        return SaveResult(False, log.lines)
    except BenchError as error:
        log.warning(str(error))
        return SaveResult(False, log.lines)
    except OSError as error:  # a full disk, a folder that cannot be written
        log.warning(f"Failed to save: {error}")
        return SaveResult(False, log.lines)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    log.info(f"Cache saved with key: {key}")
    return SaveResult(True, log.lines, entry)


def import_archive(
    store: CacheStore,
    archive: Path,
    *,
    paths: list[str],
    key: str,
    scope: str = DEFAULT_SCOPE,
    compression: str | None = None,
) -> Entry:
    """Put an archive made elsewhere (by the toolkit's own tar command) into the store."""
    check_paths(paths)
    check_key(key)
    method = compression or detect_compression()
    store.require_writable()
    listing = list_archive(archive, method)
    staged = store.scratch("import")
    shutil.copyfile(archive, staged)
    try:
        reservation = store.reserve(scope, key, cache_version(paths, method), method)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return store.commit(reservation, staged, listing)

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from bench.ghcache.clock import ManualClock
from bench.ghcache.store import CacheStore, ReserveError

V = "v1"
MAIN = "refs/heads/main"
FEATURE = "refs/heads/feature"


def put(
    store: CacheStore,
    tmp_path: Path,
    key: str,
    *,
    scope: str = MAIN,
    version: str = V,
    size: int = 10,
) -> int:
    archive = tmp_path / f"upload-{scope.replace('/', '_')}-{key}-{version}"
    archive.write_bytes(b"z" * size)
    reservation = store.reserve(scope, key, version, "zstd-without-long")
    return store.commit(reservation, archive, "").id


def found(
    store: CacheStore, keys: list[str], scopes: tuple[str, ...] = (MAIN,), version: str = V
) -> str | None:
    entry = store.lookup(keys, version, list(scopes))
    return entry.key if entry else None


def test_exact_key_beats_a_newer_prefix_match(store, tmp_path, clock) -> None:
    put(store, tmp_path, "Linux-pip-abc")
    clock.advance(1)
    put(store, tmp_path, "Linux-pip-abcdef")
    assert found(store, ["Linux-pip-abc"]) == "Linux-pip-abc"


def test_prefix_match_takes_the_newest_created(store, tmp_path, clock) -> None:
    put(store, tmp_path, "Linux-pip-old")
    clock.advance(1)
    put(store, tmp_path, "Linux-pip-new")
    assert found(store, ["Linux-pip-zzz", "Linux-pip-"]) == "Linux-pip-new"


def test_primary_key_is_prefix_matched_too(store, tmp_path) -> None:
    put(store, tmp_path, "Linux-pip-abc-extra")
    assert found(store, ["Linux-pip-abc"]) == "Linux-pip-abc-extra"


def test_keys_are_tried_in_order(store, tmp_path, clock) -> None:
    put(store, tmp_path, "a-1")
    clock.advance(1)
    put(store, tmp_path, "b-1")
    assert found(store, ["x", "a-", "b-"]) == "a-1"


def test_lookup_is_case_insensitive(store, tmp_path) -> None:
    put(store, tmp_path, "Linux-PIP-abc")
    assert found(store, ["linux-pip-ABC"]) == "Linux-PIP-abc"


def test_other_version_never_matches(store, tmp_path) -> None:
    put(store, tmp_path, "k", version="other")
    assert found(store, ["k"]) is None


def test_scopes_are_the_outer_loop(store, tmp_path, clock) -> None:
    put(store, tmp_path, "Linux-pip-abc", scope=MAIN)
    clock.advance(1)
    put(store, tmp_path, "Linux-pip-old", scope=FEATURE)
    # A restore-key hit on the current branch beats an exact hit on the default branch.
    assert found(store, ["Linux-pip-abc", "Linux-pip-"], [FEATURE, MAIN]) == "Linux-pip-old"
    # The default branch is still searched when the current one has nothing.
    assert found(store, ["Linux-pip-abc"], ["refs/heads/other", MAIN]) == "Linux-pip-abc"
    # Another branch's entries are invisible.
    assert found(store, ["Linux-pip-old"], [MAIN]) is None


def test_hit_updates_last_access(store, tmp_path, clock) -> None:
    put(store, tmp_path, "k")
    clock.advance(100)
    entry = store.lookup(["k"], V, [MAIN])
    assert entry is not None and entry.accessed_ns == clock.now
    assert store.entries()[0].accessed_ns == clock.now


def test_entries_are_immutable(store, tmp_path) -> None:
    put(store, tmp_path, "k")
    with pytest.raises(ReserveError) as error:
        store.reserve(MAIN, "k", V, "zstd-without-long")
    assert str(error.value) == (
        "Unable to reserve cache with key k, another job may be creating this cache."
    )
    # Same key with another version or scope is a different entry.
    store.reserve(MAIN, "k", "v2", "zstd-without-long")
    store.reserve(FEATURE, "k", V, "zstd-without-long")


def test_reserved_entry_is_invisible_until_committed(store, tmp_path) -> None:
    reservation = store.reserve(MAIN, "k", V, "zstd-without-long")
    assert found(store, ["k"]) is None
    assert store.entries() == []
    archive = tmp_path / "a"
    archive.write_bytes(b"data")
    store.commit(reservation, archive, "")
    assert found(store, ["k"]) == "k"


def test_reservation_of_a_dead_process_is_taken_over(store, tmp_path) -> None:
    process = multiprocessing.get_context("spawn").Process(
        target=_reserve_and_exit, args=(str(store.root),)
    )
    process.start()
    process.join()
    assert process.exitcode == 0
    put(store, tmp_path, "abandoned")  # does not raise
    assert found(store, ["abandoned"]) == "abandoned"


def _reserve_and_exit(root: str) -> None:
    CacheStore(root).reserve(MAIN, "abandoned", V, "zstd-without-long")


def test_least_recently_accessed_are_evicted_over_the_limit(tmp_path) -> None:
    clock = ManualClock()
    store = CacheStore(tmp_path / "s", limit_bytes=25, clock=clock)
    put(store, tmp_path, "a", size=10)
    clock.advance(1)
    put(store, tmp_path, "b", size=10)
    clock.advance(1)
    store.lookup(["a"], V, [MAIN])  # "a" is now more recent than "b"
    clock.advance(1)
    put(store, tmp_path, "c", size=10)
    assert sorted(e.key for e in store.entries()) == ["a", "c"]
    assert not any(p.name.startswith("2.") for p in store.archives.iterdir())


def test_limit_defaults_to_10_gb_and_can_be_5_gb(tmp_path) -> None:
    assert CacheStore(tmp_path / "a").limit_bytes == 10 * 1000**3
    assert CacheStore(tmp_path / "b", limit_bytes=5 * 1000**3).limit_bytes == 5 * 1000**3


def test_entries_idle_for_seven_days_are_removed(store, tmp_path, clock) -> None:
    put(store, tmp_path, "old")
    clock.advance(3 * 86400)
    put(store, tmp_path, "young")
    clock.advance(4 * 86400 + 1)
    assert found(store, ["old"]) is None
    assert found(store, ["young"]) == "young"
    assert [e.key for e in store.entries()] == ["young"]


def test_concurrent_saves_of_one_key_leave_one_entry(tmp_path) -> None:
    root = tmp_path / "store"
    CacheStore(root)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    workers = [
        context.Process(
            target=_save_racer, args=(str(root), str(tmp_path / f"w{i}"), start, results)
        )
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join()
    assert outcomes.count("saved") == 1
    refusals = [o for o in outcomes if o != "saved"]
    assert (
        refusals
        == ["Unable to reserve cache with key race, another job may be creating this cache."] * 3
    )
    assert [e.key for e in CacheStore(root).entries()] == ["race"]


def _save_racer(root: str, scratch: str, start, results) -> None:
    store = CacheStore(root)
    Path(scratch).mkdir()
    archive = Path(scratch) / "a"
    archive.write_bytes(b"payload")
    start.wait()
    try:
        reservation = store.reserve(MAIN, "race", V, "zstd-without-long")
    except ReserveError as error:
        results.put(str(error))
        return
    store.commit(reservation, archive, "")
    results.put("saved")

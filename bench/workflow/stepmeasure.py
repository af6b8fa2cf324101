"""Measuring one step: wall time, CPU (the shell's own figures, or rusage around an action),
the mirror's traffic in the step's session, and what a cache step restored or saved."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.ghcache.archive import listing_totals
from bench.mirror.server import MirrorServer
from bench.workflow.actions import ActionResult
from bench.workflow.steprecord import StepRecord


def measure(
    record: StepRecord,
    session: str,
    mirror: MirrorServer | None,
    body: Callable[[], ActionResult],
) -> ActionResult:
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter_ns()
    with _mirror_session(mirror, session):
        outcome = body()
    record.duration_ns = time.perf_counter_ns() - started
    if outcome.process is not None:
        record.cpu_user_s = outcome.process.cpu_user_s
        record.cpu_system_s = outcome.process.cpu_system_s
        record.peak_rss_bytes = outcome.process.peak_rss_bytes
    else:
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_self = resource.getrusage(resource.RUSAGE_SELF)
        record.cpu_user_s = (after_children.ru_utime - before_children.ru_utime) + (
            after_self.ru_utime - before_self.ru_utime
        )
        record.cpu_system_s = (after_children.ru_stime - before_children.ru_stime) + (
            after_self.ru_stime - before_self.ru_stime
        )
    if outcome.restore_ns:
        restore_ns = min(outcome.restore_ns, record.duration_ns)
        record.phases_ns = {"restore": restore_ns, record.phase: record.duration_ns - restore_ns}
    else:
        record.phases_ns = {record.phase: record.duration_ns}
    if mirror is not None:
        counters = mirror.stats(session)
        record.mirror_requests = counters.requests
        record.mirror_bytes = counters.bytes_sent
        record.mirror_files = counters.files_served
    if outcome.cache is not None:
        record.cache = describe_cache(outcome)
    record.stand_in = outcome.stand_in
    record.substitutions = list(outcome.substitutions)
    return outcome


def describe_cache(outcome: ActionResult) -> dict[str, Any]:
    """What was restored or saved; the folder's size comes from the archive's listing."""
    cache = outcome.cache
    assert cache is not None
    described: dict[str, Any] = {
        "role": cache.role,
        "key": cache.key,
        "paths": cache.paths,
        "matched_key": cache.matched_key,
        "cache_hit": cache.cache_hit,
        "saved": cache.saved,
        "archive_bytes": cache.archive_bytes,
        "folder_bytes": None,
        "folder_files": None,
    }
    if cache.listing is not None and cache.listing.is_file():
        size, files = listing_totals(cache.listing.read_text(errors="replace"))
        described |= {"folder_bytes": size, "folder_files": files}
    return described


@contextlib.contextmanager
def _mirror_session(mirror: MirrorServer | None, name: str) -> Iterator[None]:
    if mirror is None:
        yield
    else:
        with mirror.session(name):
            yield

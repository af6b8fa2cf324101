"""``python -m bench history REPO``: replay a repository's history through each strategy."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tabulate import tabulate

from bench.errors import BenchError
from bench.history.evaluate import evaluate_history
from bench.history.expected import RunTimes, expected_time, read_run, runs_per_month
from bench.history.figures import outcomes_figure, store_figure
from bench.history.gitlog import BlobReader, History, git, read_history
from bench.history.outcomes import Event, replay_strategies
from bench.history.refinements import pull_request_events, scheduled_events
from bench.history.replay import EXACT, MISS, PARTIAL
from bench.history.strategy import Strategy, load_strategies, shipped_strategies
from bench.results import write_json_atomically

HISTORY_FILE = "history.json"
DEFAULT_ARCHIVE_MB = 200  # an assumption, labelled as such, when neither a size nor a run is given


@dataclass
class HistoryOptions:
    repo: Path
    scenarios: list[str] = field(default_factory=list)
    workflows: list[Path] = field(default_factory=list)
    job: str | None = None
    matrix: dict[str, str] = field(default_factory=dict)
    branch: str | None = None
    since: str | None = None
    limit_gb: float = 10.0
    archive_mb: float | None = None
    run_dir: Path | None = None
    deps: list[str] = field(default_factory=list)
    as_json: bool = False
    out: Path | None = None
    shared_store: bool = False
    schedule: str | None = None  # "daily": a cron run each day keeps entries alive
    pull_requests: bool = False
    figures: bool = True


def choose_strategies(options: HistoryOptions) -> list[Strategy]:
    strategies: list[Strategy] = []
    if options.scenarios or not options.workflows:
        strategies += shipped_strategies(options.scenarios or None)
    for path in options.workflows:
        found = load_strategies(path, job=options.job, matrix=options.matrix)
        if not found:
            raise BenchError(f"{path} has no job with a cache step; there is nothing to replay")
        strategies += found
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise BenchError("two strategies have the same name; give each workflow file once")
    return strategies


def replay_history(options: HistoryOptions) -> dict:
    """Everything the command prints or writes, as one JSON-ready object."""
    strategies = choose_strategies(options)
    history = read_history(options.repo, options.branch, options.since)
    for warning in history.warnings + [w for s in strategies for w in s.warnings]:
        print(f"warning: {warning}", file=sys.stderr)
    started = time.perf_counter()
    extra: list[Event] = []
    with BlobReader(history.repo) as blobs:
        keys = evaluate_history(strategies, history, blobs)
        if options.pull_requests:
            extra += pull_request_events(history, strategies, blobs)
    if options.schedule:
        extra += scheduled_events(history.runs, keys, options.schedule)
    keys_s = time.perf_counter() - started
    limit = int(options.limit_gb * 1e9)
    times = read_run(options.run_dir) if options.run_dir else None
    sets = _sets(times, options.deps)
    default_size = int((options.archive_mb or DEFAULT_ARCHIVE_MB) * 1e6)

    def sizes_for(deps: list[str]) -> dict[str, int]:
        return {s.name: _entry_bytes(s, times, deps, options, default_size) for s in strategies}

    replays = replay_strategies(
        keys, history.runs, sizes_for(sets), limit, options.shared_store, extra
    )
    result = _header(history, options, keys_s, default_size, sets)
    result["strategies"] = {}
    for strategy in strategies:
        replay = replays[strategy.name]
        entry = replay.summary() | {"workflow": str(strategy.workflow), "job": strategy.job}
        result["strategies"][strategy.name] = entry
    if times is not None:
        for deps in sets:
            per_set = replay_strategies(
                keys, history.runs, sizes_for([deps]), limit, options.shared_store, extra
            )
            for strategy in strategies:
                replay = per_set[strategy.name]
                scenario = strategy.workflow.stem
                summary = {k: v for k, v in replay.summary().items() if k != "steps"}
                if times.has_scenario(scenario):
                    cadence = runs_per_month(replay.runs, replay.span_seconds)
                    rates = {o: replay.rate(o) for o in (EXACT, PARTIAL, MISS)}
                    found = expected_time(times, deps, scenario, rates, cadence)
                    summary |= found.as_dict()
                by_deps = result["strategies"][strategy.name].setdefault("by_deps", {})
                by_deps[deps] = summary
    if options.figures:
        out = options.out or _default_out(history)
        title = f"{repo_name(history.repo)} · {history.branch} · {len(history.runs)} runs"
        ordered = [replays[s.name] for s in strategies]
        figures = outcomes_figure(ordered, out / "figures", title)
        figures += store_figure(ordered, out / "figures", title)
        result["figures"] = [str(p) for p in figures]
        write_json_atomically(out / HISTORY_FILE, result)
        result["written"] = str(out / HISTORY_FILE)
    return result


def _sets(times: RunTimes | None, wanted: list[str]) -> list[str]:
    if times is None:
        if wanted:
            raise BenchError("--deps picks sets of a run; give --run RUN_DIR as well")
        return []
    for name in wanted:
        if name not in times.sets:
            raise BenchError(f"the run has no set {name!r}; its sets: {', '.join(times.sets)}")
    return wanted or times.sets


def _entry_bytes(
    strategy: Strategy,
    times: RunTimes | None,
    sets: list[str],
    options: HistoryOptions,
    default: int,
) -> int:
    """The archive size of the strategy's saves in the run (largest over the sets chosen)."""
    if options.archive_mb is not None or times is None:
        return default
    found = [times.archive_bytes.get((deps, strategy.workflow.stem)) for deps in sets]
    sizes = [s for s in found if s]
    return max(sizes) if sizes else default


def _header(
    history: History, options: HistoryOptions, keys_s: float, default_size: int, sets: list[str]
) -> dict:
    times = [r.time for r in history.runs]
    return {
        "repo": str(history.repo.resolve()),
        "name": repo_name(history.repo),
        "branch": history.branch,
        "since": options.since,
        "runs": len(history.runs),
        "first": _iso(min(times)),
        "last": _iso(max(times)),
        "shallow": history.shallow,
        "warnings": history.warnings,
        "limit_bytes": int(options.limit_gb * 1e9),
        "entry_size": (
            "from the run's saved archives (the largest over the sets)"
            if options.run_dir and options.archive_mb is None
            else f"{default_size / 1e6:g} MB"
            + ("" if options.archive_mb is not None else " (assumed; give --archive-mb or --run)")
        ),
        "run_dir": str(options.run_dir) if options.run_dir else None,
        "sets": sets,
        "shared_store": options.shared_store,
        "schedule": options.schedule,
        "pull_requests": options.pull_requests,
        "keys_seconds": round(keys_s, 3),
    }


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _default_out(history: History) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"history-{repo_name(history.repo)}-{stamp}"


def repo_name(repo: Path) -> str:
    """The name of the repository: its origin's last part, else its folder's name."""
    url = git(repo, "config", "--get", "remote.origin.url", check=False).stdout.decode().strip()
    name = url.rstrip("/").rsplit("/", 1)[-1] if url else repo.resolve().name
    return name.removesuffix(".git") or "repo"


def run_history_command(options: HistoryOptions) -> int:
    result = replay_history(options)
    if options.as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(render_text(result))
    return 0


def render_text(result: dict) -> str:
    lines = [
        f"{result['name']} ({result['repo']}) · {result['branch']}: {result['runs']} runs, "
        f"{result['first'][:10]} to {result['last'][:10]}; entry size {result['entry_size']}, "
        f"limit {result['limit_bytes'] / 1e9:g} GB",
        "",
    ]
    rows = []
    for name, s in result["strategies"].items():
        rows.append(
            [
                name,
                s["runs"],
                f"{s['exact']} ({s['exact_rate']:.0%})",
                f"{s['partial']} ({s['partial_rate']:.0%})",
                f"{s['miss']} ({s['miss_rate']:.0%})",
                s["distinct_keys_saved"],
                s["evicted_by_age"],
                s["evicted_by_size"],
                f"{s['peak_store_bytes'] / 1e9:.2f}",
            ]
        )
    headers = [
        "strategy",
        "runs",
        "exact",
        "partial",
        "miss",
        "keys saved",
        "evicted (age)",
        "evicted (size)",
        "peak GB",
    ]
    lines.append(tabulate(rows, headers=headers, tablefmt="github"))
    for name, s in result["strategies"].items():
        for kind, label in (("schedule", "scheduled runs"), ("pull_request", "pull-request runs")):
            if kind in s:
                c = s[kind]
                lines.append(
                    f"{name}: {c['runs']} {label}, exact {c['exact']}, partial {c['partial']}, "
                    f"miss {c['miss']} (not in the counts above)"
                )
        if s["runs_failing"]:
            lines.append(
                f"note: {name}: hashFiles() failed in {s['runs_failing']} runs (the job fails "
                f"there: a miss that saves nothing), first: {s['first_failure']}"
            )
        if s["runs_hashing_nothing"]:
            lines.append(
                f"note: {name}: hashFiles() matched no file in {s['runs_hashing_nothing']} of "
                f"{s['runs']} runs, so its key did not follow the dependencies there"
                + (
                    f" ({s['runs_without_key']} runs computed no key at all)"
                    if s["runs_without_key"]
                    else ""
                )
            )
    expected_rows = []
    for name, s in result["strategies"].items():
        for deps, e in (s.get("by_deps") or {}).items():
            if "expected_s" not in e:
                continue
            if e["expected_s"] is None:
                interval = "no trials for " + ", ".join(e["missing_states"])
                expected_rows.append([deps, name, "—", interval, "—", "—", "—"])
                continue
            low, high = e["interval_s"]
            expected_rows.append(
                [
                    deps,
                    name,
                    f"{e['expected_s']:.1f}",
                    f"{low:.1f} to {high:.1f}",
                    _maybe(e["no_cache_cold_s"], ".1f"),
                    _maybe(e["ci_minutes_per_month"], ".0f"),
                    _maybe(e["no_cache_minutes_per_month"], ".0f"),
                ]
            )
    if expected_rows:
        expected_rows.sort(key=lambda r: (r[0], float(r[2]) if r[2] != "—" else float("inf")))
        lines += [
            "",
            "Expected job time per run (s), weighted by these rates, from the run's medians:",
            "",
            tabulate(
                expected_rows,
                headers=[
                    "set",
                    "strategy",
                    "expected s",
                    "95% interval",
                    "no-cache cold s",
                    "CI min/month",
                    "no-cache min/month",
                ],
                tablefmt="github",
            ),
        ]
    if result.get("written"):
        lines += ["", f"written: {result['written']} and figures beside it"]
    return "\n".join(lines)


def _maybe(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)

"""``python -m bench``: the command line. Each subcommand is a thin wrapper over a room."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tabulate import tabulate

from bench.errors import BenchError
from bench.ghcache import action
from bench.ghcache.hashfiles import hash_files
from bench.ghcache.keys import parse_multiline
from bench.ghcache.store import DEFAULT_LIMIT_BYTES, CacheStore
from bench.report.tables import FORMATS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark ways of caching Python dependencies in GitHub Actions.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    hashing = commands.add_parser("hash-files", help="print hashFiles(PATTERN...) as the runner")
    hashing.add_argument("--workspace", default=".", help="the GITHUB_WORKSPACE (default: .)")
    hashing.add_argument("--follow-symbolic-links", action="store_true")
    hashing.add_argument("patterns", nargs="+", metavar="PATTERN")
    hashing.set_defaults(handler=cmd_hash_files)

    cache = commands.add_parser("cache", help="drive the emulated cache service")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")

    save = cache_commands.add_parser("save", help="save as the post step of actions/cache")
    _common_cache_args(save)
    save.add_argument("--limit-bytes", type=_positive_int, default=DEFAULT_LIMIT_BYTES)
    save.set_defaults(handler=cmd_save)

    restore = cache_commands.add_parser("restore", help="restore as actions/cache does")
    _common_cache_args(restore)
    restore.add_argument("--restore-key", action="append", default=[], metavar="KEY")
    restore.add_argument("--default-branch", default="main")
    restore.add_argument("--lookup-only", action="store_true")
    restore.add_argument("--fail-on-cache-miss", action="store_true")
    restore.set_defaults(handler=cmd_restore)

    listing = cache_commands.add_parser("list", help="list the store's entries")
    listing.add_argument("--store", required=True, type=Path)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_list)

    speed = cache_commands.add_parser(
        "speed", help="time the emulator against bare tar on a real tree (prints the ratios)"
    )
    speed.add_argument("--min-mb", type=_positive_int, default=200)
    speed.add_argument("--rounds", type=_positive_int, default=5)
    speed.set_defaults(handler=cmd_speed)

    mirror = commands.add_parser("mirror", help="the local package index")
    mirror_commands = mirror.add_subparsers(dest="mirror_command", required=True, metavar="ACTION")
    fetch = mirror_commands.add_parser("fetch", help="fill the wheelhouse from pinned requirements")
    fetch.add_argument("-r", "--requirement", action="append", required=True, type=Path)
    fetch.add_argument("--wheelhouse", type=Path, default=None)
    fetch.add_argument("--index-url", help="fetch from this index instead of pip's configured one")
    fetch.set_defaults(handler=cmd_mirror_fetch)
    serve = mirror_commands.add_parser("serve", help="serve the wheelhouse on 127.0.0.1")
    serve.add_argument("--wheelhouse", type=Path, default=None)
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--profile", default="unthrottled", help="a network profile's name")
    serve.set_defaults(handler=cmd_mirror_serve)
    shaping = mirror_commands.add_parser(
        "shaping", help="measure shaping accuracy against the profiles (prints the figures)"
    )
    shaping.add_argument("--profile", action="append", default=None)
    shaping.add_argument("--mb", type=_positive_int, default=100)
    shaping.set_defaults(handler=cmd_mirror_shaping)

    run = commands.add_parser("run", help="run scenarios as real jobs and record every step")
    run.add_argument("--scenario", action="append", default=[], metavar="NAME")
    run.add_argument("--deps", action="append", default=[], metavar="NAME_OR_DIR")
    run.add_argument("--workflow", action="append", default=[], metavar="FILE")
    run.add_argument(
        "--job",
        default=None,
        metavar="NAME",
        help="the job to run from each --workflow file (needed when a file has several)",
    )
    run.add_argument(
        "--matrix",
        action="append",
        default=[],
        type=_matrix_choice,
        metavar="KEY=VALUE",
        help="pick a matrix cell, e.g. --matrix python-version=3.12 (repeatable; default: the "
        "first cell that runs on Linux)",
    )
    run.add_argument("--states", type=_states, default=None, help="e.g. cold,warm,partial")
    run.add_argument("--reps", type=_positive_int, default=None, help="repetitions (default 3)")
    run.add_argument("--profile", default=None, help="network profile (default github-hosted)")
    run.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random)")
    run.add_argument(
        "--quick", action="store_true", help="one repetition, the cli set, cold and warm"
    )
    run.add_argument("--out", type=Path, default=None, help="parent folder (default results/)")
    run.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR")
    run.set_defaults(handler=cmd_run)

    check = commands.add_parser(
        "check-workflow",
        help="say, for each job of each file, whether the harness can run it and what blocks it",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="workflow files to check")
    check.add_argument(
        "--json", action="store_true", help="print a JSON list of {file, job, runnable, blockers}"
    )
    check.set_defaults(handler=cmd_check_workflow)

    report = commands.add_parser("report", help="tables, figures and report.md from a run")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.add_argument("--format", default="github", choices=FORMATS)
    report.add_argument(
        "--publish",
        nargs="?",
        const=Path("docs/results"),
        type=Path,
        default=None,
        metavar="DIR",
        help="also copy the report, figures and summary here (default docs/results)",
    )
    report.set_defaults(handler=cmd_report)

    report_speed = commands.add_parser(
        "report-speed", help="time rendering a synthetic run of 500 trials (target: under 10 s)"
    )
    report_speed.add_argument("--trials", type=_positive_int, default=500)
    report_speed.set_defaults(handler=cmd_report_speed)

    compare = commands.add_parser("compare", help="change in median totals between two runs")
    compare.add_argument("run_a", type=Path, metavar="RUN_A")
    compare.add_argument("run_b", type=Path, metavar="RUN_B")
    compare.add_argument(
        "--fail-above",
        default=None,
        metavar="PERCENT",
        help="exit 1 when a cell is significantly slower in B by more than this",
    )
    compare.set_defaults(handler=cmd_compare)

    deps = commands.add_parser("deps", help="dependency sets")
    deps_commands = deps.add_subparsers(dest="deps_command", required=True, metavar="ACTION")
    lock = deps_commands.add_parser(
        "lock", help="derive a set's poetry and pipenv projects from its pins and lock them"
    )
    lock.add_argument("sets", nargs="+", metavar="NAME_OR_DIR")
    lock.add_argument("--python", default="3.11", help="interpreter version to lock for")
    lock.set_defaults(handler=cmd_deps_lock)
    return parser


def _common_cache_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, type=Path, help="the store's folder")
    parser.add_argument("--workspace", required=True, help="the GITHUB_WORKSPACE")
    parser.add_argument("--key", required=True)
    parser.add_argument("--path", action="append", required=True, metavar="PATH")
    parser.add_argument("--scope", default=action.DEFAULT_SCOPE, help="the ref being built")
    parser.add_argument(
        "--profile",
        default="unthrottled",
        help="network profile whose cache bandwidth and overhead pace the transfer",
    )
    parser.add_argument(
        "--root",
        help="never write outside this folder (default: the folder holding both the "
        "workspace and $HOME)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _runner(args: argparse.Namespace) -> action.Runner:
    workspace = Path(args.workspace)
    if not workspace.is_dir():
        raise BenchError(f"the workspace {workspace} is not a folder; pass an existing one")
    return action.Runner.for_workspace(workspace, home=os.environ.get("HOME"), root=args.root)


def _transfer(profile_name: str) -> action.Transfer:
    from bench.mirror.profiles import get_profile

    return get_profile(profile_name).cache_transfer()


def _paths(args: argparse.Namespace) -> list[str]:
    return [line for value in args.path for line in parse_multiline(value)]


def cmd_hash_files(args: argparse.Namespace) -> int:
    if not Path(args.workspace).is_dir():
        raise BenchError(f"the workspace {args.workspace} is not a folder; pass an existing one")
    try:
        digest = hash_files(
            args.patterns,
            workspace=args.workspace,
            home=os.environ.get("HOME"),
            follow_symbolic_links=args.follow_symbolic_links,
        )
    except BenchError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(digest)
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    store = CacheStore(args.store, limit_bytes=args.limit_bytes)
    result = action.save(
        store,
        _runner(args),
        paths=_paths(args),
        key=args.key,
        scope=args.scope,
        transfer=_transfer(args.profile),
    )
    print("\n".join(result.log))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    store = CacheStore(args.store)
    scopes = [args.scope, f"refs/heads/{args.default_branch}"]
    restore_keys = [line for value in args.restore_key for line in parse_multiline(value)]
    result = action.restore(
        store,
        _runner(args),
        paths=_paths(args),
        primary_key=args.key,
        restore_keys=restore_keys,
        scopes=scopes,
        lookup_only=args.lookup_only,
        fail_on_cache_miss=args.fail_on_cache_miss,
        transfer=_transfer(args.profile),
    )
    for line in result.log:
        print(line, file=sys.stderr if line.startswith(("Error:", "Warning:")) else sys.stdout)
    print(f"cache-hit={result.cache_hit}")
    print(f"cache-primary-key={result.primary_key}")
    print(f"cache-matched-key={result.matched_key}")
    return 1 if result.failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    if not (args.store / "index.sqlite").is_file():
        raise BenchError(f"{args.store} is not a cache store (no index.sqlite); check --store")
    entries = CacheStore(args.store).entries()
    rows = [
        {
            "scope": e.scope,
            "key": e.key,
            "version": e.version,
            "size": e.size,
            "created": _iso(e.created_ns),
            "last_accessed": _iso(e.accessed_ns),
        }
        for e in entries
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no entries")
        return 0
    print(tabulate(rows, headers="keys"))
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    from bench.ghcache import speed

    report = speed.run(min_mb=args.min_mb, rounds=args.rounds)
    print(report.render())
    return 0


def cmd_mirror_fetch(args: argparse.Namespace) -> int:
    from bench.mirror.fetch import DEFAULT_WHEELHOUSE, fetch

    wheelhouse = args.wheelhouse or DEFAULT_WHEELHOUSE
    result = fetch(args.requirement, wheelhouse, index_url=args.index_url)
    for name in result.fetched:
        print(f"fetched {name}")
    print(
        f"{len(result.fetched)} file(s) fetched, {result.already_there} requirement(s) already "
        f"in {wheelhouse}"
    )
    return 0


def cmd_mirror_serve(args: argparse.Namespace) -> int:
    from bench.mirror.fetch import DEFAULT_WHEELHOUSE
    from bench.mirror.profiles import get_profile
    from bench.mirror.server import MirrorServer

    profile = get_profile(args.profile)
    server = MirrorServer(args.wheelhouse or DEFAULT_WHEELHOUSE, port=args.port, profile=profile)
    print(f"serving {len(server.files)} files of {len(server.projects)} projects at "
          f"{server.index_url()} (profile {profile.name}); Ctrl-C stops", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    return 0


def cmd_mirror_shaping(args: argparse.Namespace) -> int:
    from bench.mirror.accuracy import measure
    from bench.mirror.profiles import get_profile

    names = args.profile or ["github-hosted", "slow"]
    outside = 0
    for name in names:
        profile = get_profile(name)
        print(f"profile {name}:")
        outside += sum(not check.within for check in measure(profile, args.mb))
    print("all within tolerance (bandwidth +-10 %, latency +-5 ms)" if not outside
          else f"{outside} figure(s) outside tolerance")  # fmt: skip
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bench import execute
    from bench.plan import DEFAULT_PROFILE, DEFAULT_REPS, QUICK_STATES, STATES, PlanOptions

    if args.resume is not None:
        chosen = [a for a in ("scenario", "deps", "workflow", "job", "matrix") if getattr(args, a)]
        chosen += [a for a in ("states", "reps", "profile", "seed", "out") if getattr(args, a)]
        if chosen or args.quick:
            raise BenchError("--resume continues a run with its own plan; drop the other options")
        state = execute.resume_run(args.resume)
        execute.ensure_port_free()
    else:
        options = PlanOptions(
            scenarios=args.scenario,
            deps=args.deps,
            workflows=args.workflow,
            job=args.job,
            matrix=[f"{key}={value}" for key, value in args.matrix],
            states=args.states or list(QUICK_STATES if args.quick else STATES),
            reps=args.reps or (1 if args.quick else DEFAULT_REPS),
            profile=args.profile or DEFAULT_PROFILE,
            seed=args.seed if args.seed is not None else random.randrange(2**31),
            quick=args.quick,
        )
        state = execute.start_run(options, args.out)
    execute.fill_wheelhouse({t.cell.deps for t in state.trials}, execute.DEFAULT_WHEELHOUSE)
    # A CI system cancels with SIGTERM: stop as cleanly as on Ctrl-C, keeping finished trials.
    signal.signal(signal.SIGTERM, _interrupt)
    failures = execute.execute(state)
    return 1 if failures else 0


def cmd_check_workflow(args: argparse.Namespace) -> int:
    from bench.workflow.check import check_files, render_json, render_table

    verdicts = check_files(args.files)  # an unreadable or non-YAML file: error, exit 2
    print(render_json(verdicts) if args.json else render_table(verdicts))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.render import publish, render, step_summary_text

    rendered = render(args.run_dir, args.format)
    print(f"wrote {rendered.report} and {len(rendered.figures)} figure file(s)")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:  # in a GitHub Actions job: the tables go to the job's summary page
        with open(step_summary, "a") as summary:
            summary.write(step_summary_text(args.run_dir))
    if args.publish is not None:
        written = publish(rendered, args.publish)
        print(f"published {len(written)} file(s) to {args.publish}")
    return 0


def cmd_report_speed(args: argparse.Namespace) -> int:
    from bench.report.speed import TARGET_S, measure

    seconds = measure(args.trials)
    verdict = "within" if seconds < TARGET_S else "OVER"
    print(
        f"rendered the report, CSVs and figures of {args.trials} synthetic trials in "
        f"{seconds:.2f} s ({seconds / TARGET_S:.2f} of the {TARGET_S:g} s target: {verdict})"
    )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import changes_table, compare_runs, parse_threshold, regressions

    threshold = parse_threshold(args.fail_above) if args.fail_above is not None else None
    changes = compare_runs(args.run_a, args.run_b)
    print(changes_table(changes))
    if threshold is None:
        return 0
    slower = regressions(changes, threshold)
    for change in slower:
        print(f"slower: {'/'.join(change.cell)} {change.percent:+.1f}% (over {threshold:g}%)")
    return 1 if slower else 0


def cmd_deps_lock(args: argparse.Namespace) -> int:
    from bench.depsets import load_set
    from bench.execute import fill_wheelhouse
    from bench.locking import BENCH_INDEX_URL, BENCH_MIRROR_PORT, derive_projects
    from bench.mirror.fetch import DEFAULT_WHEELHOUSE
    from bench.mirror.server import MirrorServer
    from bench.runner.pythons import select_interpreter

    python = select_interpreter(args.python)
    sets = [load_set(name) for name in args.sets]
    fill_wheelhouse(sets, DEFAULT_WHEELHOUSE)  # the lock-only packages come with the tools
    with MirrorServer(DEFAULT_WHEELHOUSE, port=BENCH_MIRROR_PORT):
        for deps in sets:
            folders = [deps.path] + ([deps.previous] if deps.previous is not None else [])
            for folder in folders:
                derive_projects(folder, BENCH_INDEX_URL, python.path, name=f"deps-{deps.name}")
                print(f"locked {folder}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _matrix_choice(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _states(text: str) -> list[str]:
    states = [part.strip() for part in text.split(",") if part.strip()]
    if not states:
        raise argparse.ArgumentTypeError("give states such as cold,warm,partial")
    return states


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds")

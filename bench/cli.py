"""``python -m bench``: the command line. Each subcommand is a thin wrapper over a room."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tabulate import tabulate

from bench.errors import BenchError
from bench.ghcache import action
from bench.ghcache.hashfiles import hash_files
from bench.ghcache.keys import parse_multiline
from bench.ghcache.store import DEFAULT_LIMIT_BYTES, CacheStore
from bench.network.transfer import Transfer
from bench.report.tables import FORMATS

# The exit-code policy, the same for every subcommand (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # what was measured failed, or a figure crossed its threshold or target
EXIT_BAD_INPUT = 2  # the input (arguments, files, folders) cannot be used; the line says why
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 on a malformed command line
    try:
        return int(args.handler(args))
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:  # a folder or file the user named cannot be read or written
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark ways of caching Python dependencies in GitHub Actions.",
        epilog="Exit status: 0 success, 1 a trial or threshold failed, 2 bad input, "
        "130 interrupted.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    hashing = commands.add_parser("hash-files", help="print hashFiles(PATTERN...) as the runner")
    hashing.add_argument("--workspace", default=".", help="the GITHUB_WORKSPACE (default: .)")
    hashing.add_argument(
        "--follow-symbolic-links",
        action="store_true",
        help="follow symbolic links while matching, as hashFiles' option of that name",
    )
    hashing.add_argument(
        "patterns",
        nargs="+",
        metavar="PATTERN",
        help="glob patterns relative to the workspace, e.g. '**/requirements.txt' "
        "or '!docs/**' to exclude",
    )
    hashing.set_defaults(handler=cmd_hash_files)

    cache = commands.add_parser("cache", help="drive the emulated cache service")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")

    save = cache_commands.add_parser("save", help="save as the post step of actions/cache")
    _common_cache_args(save)
    save.add_argument(
        "--limit-bytes",
        type=_positive_int,
        default=DEFAULT_LIMIT_BYTES,
        help="the store's size limit; older entries are evicted past it "
        "(default: 10 GB, e.g. 5000000000)",
    )
    save.set_defaults(handler=cmd_save)

    restore = cache_commands.add_parser("restore", help="restore as actions/cache does")
    _common_cache_args(restore)
    restore.add_argument(
        "--restore-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a prefix to fall back on when KEY misses, e.g. 'Linux-pip-' (repeatable, "
        "tried in order)",
    )
    restore.add_argument(
        "--default-branch",
        default="main",
        help="the branch whose entries a restore may also use (default: main)",
    )
    restore.add_argument(
        "--lookup-only", action="store_true", help="say whether an entry exists, restore nothing"
    )
    restore.add_argument(
        "--fail-on-cache-miss", action="store_true", help="exit 1 when no entry matches"
    )
    restore.set_defaults(handler=cmd_restore)

    listing = cache_commands.add_parser("list", help="list the store's entries")
    listing.add_argument(
        "--store", required=True, type=_absolute_path, help="the store's folder, e.g. .bench-store"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=cmd_list)

    speed = cache_commands.add_parser(
        "speed", help="time the emulator against bare tar on a real tree (prints the ratios)"
    )
    speed.add_argument(
        "--min-mb", type=_positive_int, default=200, help="size of the tree to time (default 200)"
    )
    speed.add_argument(
        "--rounds", type=_positive_int, default=5, help="timed rounds per side (default 5)"
    )
    speed.set_defaults(handler=cmd_speed)

    mirror = commands.add_parser("mirror", help="the local package index")
    mirror_commands = mirror.add_subparsers(dest="mirror_command", required=True, metavar="ACTION")
    fetch = mirror_commands.add_parser("fetch", help="fill the wheelhouse from pinned requirements")
    fetch.add_argument(
        "-r",
        "--requirement",
        action="append",
        required=True,
        type=Path,
        help="a requirements file pinning NAME==VERSION with --hash=sha256: (repeatable)",
    )
    fetch.add_argument(
        "--wheelhouse", type=Path, default=None, help="where files go (default .wheelhouse/)"
    )
    fetch.add_argument("--index-url", help="fetch from this index instead of pip's configured one")
    fetch.set_defaults(handler=cmd_mirror_fetch)
    serve = mirror_commands.add_parser("serve", help="serve the wheelhouse on 127.0.0.1")
    serve.add_argument(
        "--wheelhouse", type=Path, default=None, help="the files to serve (default .wheelhouse/)"
    )
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--profile", default="unthrottled", help="a network profile's name")
    serve.set_defaults(handler=cmd_mirror_serve)
    shaping = mirror_commands.add_parser(
        "shaping", help="measure shaping accuracy against the profiles (exit 1 if a figure misses)"
    )
    shaping.add_argument(
        "--profile",
        action="append",
        default=None,
        metavar="NAME",
        help="a profile of scenarios/network-profiles.toml (repeatable; default: github-hosted "
        "and slow)",
    )
    shaping.add_argument(
        "--mb", type=_positive_int, default=100, help="megabytes per transfer (default 100)"
    )
    shaping.set_defaults(handler=cmd_mirror_shaping)

    run = commands.add_parser("run", help="run scenarios as real jobs and record every step")
    run.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="a workflow of scenarios/workflows, e.g. pip-cache (repeatable; default: all)",
    )
    run.add_argument(
        "--deps",
        action="append",
        default=[],
        metavar="NAME_OR_DIR",
        help="a set of scenarios/deps, e.g. cli, or a folder with a pinned requirements.txt, "
        "e.g. ./mydeps (repeatable; default: all)",
    )
    run.add_argument(
        "--workflow",
        action="append",
        default=[],
        metavar="FILE",
        help="your own workflow file with one job, e.g. .github/workflows/ci.yml (repeatable)",
    )
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
    run.add_argument(
        "--states", type=_states, default=None, help="cache states, e.g. cold,warm,partial"
    )
    run.add_argument(
        "--reps",
        type=_reps,
        default=None,
        metavar="N|auto",
        help="repetitions: a number (default 3), or 'auto': rounds go on until each cell's "
        "median is within +-5 %% or its set's ranking is settled, or --budget is spent",
    )
    run.add_argument(
        "--budget",
        type=float,
        default=None,
        metavar="MINUTES",
        help="with --reps auto, start no trial after this many minutes (default 45), e.g. 30",
    )
    run.add_argument(
        "--retry-busy",
        action="store_true",
        help="re-run, at the end of each round, trials during which other processes used over "
        "30 %% of the CPU (machine_busy)",
    )
    run.add_argument(
        "--no-sync",
        action="store_true",
        help="do not flush earlier writes to disk before each trial (to measure what it changes)",
    )
    run.add_argument("--profile", default=None, help="network profile (default github-hosted)")
    run.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random)")
    run.add_argument(
        "--quick", action="store_true", help="one repetition, the cli set, cold and warm"
    )
    run.add_argument(
        "--out", type=_absolute_path, default=None, help="parent folder (default results/)"
    )
    run.add_argument(
        "--resume",
        type=_absolute_path,
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run, e.g. results/20261123-101500-ab12cd "
        "(takes no other option)",
    )
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
    report.add_argument(
        "run_dir",
        type=_absolute_path,
        metavar="RUN_DIR",
        help="a run folder, e.g. results/20261123-101500-ab12cd",
    )
    report.add_argument(
        "--format", default="github", choices=FORMATS, help="the tables' format (default github)"
    )
    report.add_argument(
        "--publish",
        nargs="?",
        const=Path("docs/results"),
        type=_absolute_path,
        default=None,
        metavar="DIR",
        help="also copy the report, figures and summary here (default docs/results)",
    )
    report.add_argument(
        "--history",
        type=Path,
        default=None,
        metavar="REPO",
        help="rank strategies by expected time over this repository's history",
    )
    report.set_defaults(handler=cmd_report)

    report_speed = commands.add_parser(
        "report-speed",
        help="time rendering a synthetic run of 500 trials (exit 1 over the 10 s target)",
    )
    report_speed.add_argument(
        "--trials", type=_positive_int, default=500, help="synthetic trials (default 500)"
    )
    report_speed.set_defaults(handler=cmd_report_speed)

    compare = commands.add_parser("compare", help="change in median totals between two runs")
    compare.add_argument("run_a", type=Path, metavar="RUN_A", help="the baseline run folder")
    compare.add_argument("run_b", type=Path, metavar="RUN_B", help="the run compared with it")
    compare.add_argument(
        "--fail-above",
        default=None,
        metavar="PERCENT",
        help="exit 1 when a cell is significantly slower in B by more than this, e.g. 10%%",
    )
    compare.add_argument(
        "--phase",
        default=None,
        help="compare one phase instead of the total, e.g. restore (with the runs of "
        "'run --no-sync' and 'run': what flushing writes before each trial changes)",
    )
    compare.set_defaults(handler=cmd_compare)

    deps = commands.add_parser("deps", help="dependency sets")
    deps_commands = deps.add_subparsers(dest="deps_command", required=True, metavar="ACTION")
    lock = deps_commands.add_parser(
        "lock", help="derive a set's poetry and pipenv projects from its pins and lock them"
    )
    lock.add_argument(
        "sets",
        nargs="+",
        metavar="NAME_OR_DIR",
        help="a set of scenarios/deps, e.g. web, or a folder's path, e.g. ./mydeps",
    )
    lock.add_argument("--python", default="3.11", help="interpreter version to lock for")
    lock.set_defaults(handler=cmd_deps_lock)

    # -- bench/history: a repository's git history replayed through each strategy's keys --
    history = commands.add_parser(
        "history", help="replay a repository's history through each strategy's cache keys"
    )
    history.add_argument("repo", type=Path, metavar="REPO", help="a git clone (no checkout needed)")
    history.add_argument(
        "--scenario",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="shipped scenarios to replay, e.g. pip-cache uv (default: every one that caches)",
    )
    history.add_argument(
        "--workflow",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="your own workflow, its cache steps' keys as written, e.g. .github/workflows/ci.yml",
    )
    history.add_argument("--job", default=None, help="the job of --workflow (default: all)")
    history.add_argument(
        "--matrix",
        action="append",
        default=[],
        type=_matrix_choice,
        metavar="KEY=VALUE",
        help="the matrix cell whose keys to replay, e.g. python-version=3.12 (repeatable)",
    )
    history.add_argument("--branch", default=None, help="default: the checked-out branch")
    history.add_argument("--since", default=None, metavar="DATE", help="as git log --since")
    history.add_argument("--limit-gb", type=float, default=10.0, help="store limit (default 10)")
    history.add_argument("--archive-mb", type=float, default=None, help="entry size in MB")
    history.add_argument(
        "--run",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="a run folder: entry sizes from its archives, and expected time per run",
    )
    history.add_argument("--deps", action="append", default=[], metavar="SET", help="with --run")
    history.add_argument("--shared-store", action="store_true", help="one store for all")
    history.add_argument("--schedule", choices=["daily"], default=None, help="a cron run a day")
    history.add_argument("--pull-requests", action="store_true", help="merged PRs' commits too")
    history.add_argument("--json", action="store_true", help="print one JSON object")
    history.add_argument("--out", type=Path, default=None, help="figures and history.json")
    history.set_defaults(handler=cmd_history)
    history_speed = commands.add_parser(
        "history-speed", help="time the replay on a synthetic repository (prints the figure)"
    )
    history_speed.add_argument(
        "--commits",
        type=_positive_int,
        default=5000,
        help="first-parent commits in the synthetic repository (default 5000)",
    )
    history_speed.set_defaults(handler=cmd_history_speed)
    # -- bench/advise: a team's repository in, a recommendation out --
    advise = commands.add_parser(
        "advise", help="run your job and the candidate strategies on your project; recommend one"
    )
    advise.add_argument("path", type=Path, metavar="PATH", help="a git checkout of your project")
    advise.add_argument(
        "--job",
        default=None,
        metavar="NAME",
        help="your job that installs and tests, e.g. tests (default: found among your workflows)",
    )
    advise.add_argument(
        "--matrix",
        action="append",
        default=[],
        type=_matrix_choice,
        metavar="KEY=VALUE",
        help="your job's matrix cell, e.g. python-version=3.12 (repeatable)",
    )
    advise.add_argument(
        "--test-cmd",
        default=None,
        metavar="CMD",
        help="the test command, e.g. 'pytest -q tests' (default: your job's)",
    )
    advise.add_argument(
        "--budget",
        type=float,
        default=15.0,
        metavar="MINUTES",
        help="start no trial after this many minutes (default 15)",
    )
    advise.add_argument(
        "--out", type=Path, default=None, help="where the advice folder goes (default: results/)"
    )
    advise.add_argument(
        "--profile", default="github-hosted", help="network profile, e.g. github-hosted or slow"
    )
    advise.set_defaults(handler=cmd_advise)
    return parser


def cmd_history(args: argparse.Namespace) -> int:
    from bench.history.command import HistoryOptions, run_history_command

    matrix = dict(args.matrix)  # KEY=VALUE pairs, checked by the parser
    options = HistoryOptions(
        repo=args.repo,
        scenarios=args.scenario,
        workflows=args.workflow,
        job=args.job,
        matrix=matrix,
        branch=args.branch,
        since=args.since,
        limit_gb=args.limit_gb,
        archive_mb=args.archive_mb,
        run_dir=args.run,
        deps=args.deps,
        as_json=args.json,
        out=args.out,
        shared_store=args.shared_store,
        schedule=args.schedule,
        pull_requests=args.pull_requests,
    )
    return run_history_command(options)


def cmd_history_speed(args: argparse.Namespace) -> int:
    from bench.history.speed import run_speed

    return run_speed(args.commits)


def _common_cache_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", required=True, type=_absolute_path, help="the store's folder, e.g. .bench-store"
    )
    parser.add_argument("--workspace", required=True, help="the GITHUB_WORKSPACE")
    parser.add_argument(
        "--key", required=True, help="the cache key, e.g. Linux-pip-<hash of requirements>"
    )
    parser.add_argument(
        "--path",
        action="append",
        required=True,
        metavar="PATH",
        help="what to cache, as the action's path input, e.g. '~/.cache/pip' (repeatable; "
        "globs and !exclusions allowed)",
    )
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


def _absolute_path(text: str) -> Path:
    """Paths are made absolute where they are read: the jobs' tools run in other folders."""
    return Path(text).expanduser().absolute()


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


def _transfer(profile_name: str) -> Transfer:
    from bench.network.profiles import get_profile

    return get_profile(profile_name).cache_transfer()


def _paths(args: argparse.Namespace) -> list[str]:
    return [line for value in args.path for line in parse_multiline(value)]


def cmd_hash_files(args: argparse.Namespace) -> int:
    if not Path(args.workspace).is_dir():
        raise BenchError(f"the workspace {args.workspace} is not a folder; pass an existing one")
    digest = hash_files(  # an invalid pattern is bad input: one line, exit 2
        args.patterns,
        workspace=args.workspace,
        home=os.environ.get("HOME"),
        follow_symbolic_links=args.follow_symbolic_links,
    )
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
    scopes = action.search_scopes(args.scope, args.default_branch)
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
    from bench.mirror.server import MirrorServer
    from bench.network.profiles import get_profile

    profile = get_profile(args.profile)
    server = MirrorServer(args.wheelhouse or DEFAULT_WHEELHOUSE, port=args.port, profile=profile)
    print(f"serving {len(server.files)} files of {len(server.projects)} projects at "
          f"{server.index_url()} (profile {profile.name}); Ctrl-C stops", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
        return EXIT_INTERRUPTED
    return EXIT_OK


def cmd_mirror_shaping(args: argparse.Namespace) -> int:
    from bench.mirror.accuracy import measure
    from bench.network.profiles import get_profile

    names = args.profile or ["github-hosted", "slow"]
    outside = 0
    for name in names:
        profile = get_profile(name)
        print(f"profile {name}:")
        outside += sum(not check.within for check in measure(profile, args.mb))
    print("all within tolerance (bandwidth +-10 %, latency +-5 ms)" if not outside
          else f"{outside} figure(s) outside tolerance")  # fmt: skip
    return EXIT_FAILED if outside else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from bench import execute
    from bench.plan import RunRequest

    request = RunRequest(
        scenarios=args.scenario,
        deps=args.deps,
        workflows=args.workflow,
        job=args.job,
        matrix=[f"{key}={value}" for key, value in args.matrix],
        states=args.states,
        reps=args.reps,
        budget=args.budget,
        retry_busy=args.retry_busy,
        no_sync=args.no_sync,
        profile=args.profile,
        seed=args.seed,
        quick=args.quick,
        out=args.out,
        resume=args.resume,
    )
    state = execute.open_run(request)
    # A CI system cancels with SIGTERM: stop as cleanly as on Ctrl-C, keeping finished trials.
    signal.signal(signal.SIGTERM, _interrupt)
    failures = execute.execute(state)
    return EXIT_FAILED if failures else EXIT_OK


def cmd_advise(args: argparse.Namespace) -> int:
    from bench.advise.command import AdviseOptions, advise, summary_lines

    options = AdviseOptions(
        path=args.path,
        job=args.job,
        matrix=[f"{key}={value}" for key, value in args.matrix],
        test_cmd=args.test_cmd,
        budget_min=args.budget,
        out=args.out.resolve() if args.out else None,
        profile=args.profile,
    )
    result = advise(options)
    print("\n".join(summary_lines(result)))
    return EXIT_OK


def cmd_check_workflow(args: argparse.Namespace) -> int:
    from bench.workflow.check import check_files, render_json, render_table

    verdicts = check_files(args.files)  # an unreadable or non-YAML file: error, exit 2
    print(render_json(verdicts) if args.json else render_table(verdicts))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.paths import output_folder
    from bench.report.render import publish, render, step_summary_text

    if args.publish is not None:
        output_folder(args.publish, "--publish")  # refused before anything is rendered
    if args.history is not None:  # bench/history: keep a replay in the run folder first
        from bench.history.ranking import write_replay

        print(f"replayed {args.history} into {write_replay(args.history, args.run_dir)}")
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
    return EXIT_OK if seconds < TARGET_S else EXIT_FAILED


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import changes_table, compare_runs, parse_threshold, regressions

    threshold = parse_threshold(args.fail_above) if args.fail_above is not None else None
    changes = compare_runs(args.run_a, args.run_b, phase=args.phase)
    print(changes_table(changes))
    untested = [c for c in changes if not c.tested]
    if untested:
        print(
            f"{len(untested)} cell(s) not tested for significance: fewer than 3 trials a side; "
            "--fail-above ignores them"
        )
    if threshold is None:
        return 0
    slower = regressions(changes, threshold)
    for change in slower:
        print(f"slower: {change.label} {change.percent:+.1f}% (over {threshold:g}%)")
    return EXIT_FAILED if slower else EXIT_OK


def cmd_deps_lock(args: argparse.Namespace) -> int:
    from bench.depsets import load_set
    from bench.execute import fill_wheelhouse
    from bench.locking import BENCH_INDEX_URL, BENCH_MIRROR_PORT, derive_projects
    from bench.mirror.fetch import DEFAULT_WHEELHOUSE
    from bench.mirror.server import MirrorServer
    from bench.runner.pythons import select_interpreter

    python = select_interpreter(args.python)
    sets = [load_set(name) for name in args.sets]
    with tempfile.TemporaryDirectory(prefix="bench-deps-") as resolved_in:
        # the lock-only packages come with the tools
        fill_wheelhouse(sets, DEFAULT_WHEELHOUSE, Path(resolved_in))
    with MirrorServer(DEFAULT_WHEELHOUSE, port=BENCH_MIRROR_PORT):
        for deps in sets:
            folders = [deps.path] + ([deps.previous] if deps.previous is not None else [])
            for folder in folders:
                derive_projects(folder, BENCH_INDEX_URL, python.path, name=f"deps-{deps.name}")
                print(f"locked {folder}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _reps(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a whole number, got {text!r}"
        ) from None


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

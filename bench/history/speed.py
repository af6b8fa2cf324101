"""The replay's speed on a synthetic repository (``python -m bench history-speed``).

The repository is built with ``git fast-import``: a tree of about a thousand source files, a
commit every couple of hours with a few source files changed, the dependency files
(``requirements.txt``, ``poetry.lock``, ``Pipfile.lock``, ``uv.lock``, ``pyproject.toml``)
changed now and then, and idle gaps of more than a week. Each shipped strategy is replayed on
its own (keys, store, no figures) and timed against the 10 s target.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from bench.history.evaluate import evaluate_history
from bench.history.gitlog import BlobReader, read_history
from bench.history.outcomes import replay_strategies
from bench.history.strategy import shipped_strategies

TARGET_SECONDS = 10.0
START = 1_700_000_000
DEPENDENCY_FILES = {
    "requirements.txt": 40,  # changed about once every N commits
    "poetry.lock": 60,
    "Pipfile.lock": 80,
    "uv.lock": 50,
    "pyproject.toml": 200,
    "sub/requirements.txt": 300,
}


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def synthetic_stream(commits: int, seed: int = 0, files: int = 1000) -> bytes:
    """A fast-import stream of ``commits`` first-parent commits on ``main``."""
    rng = random.Random(seed)
    out: list[bytes] = []
    now = START
    sources = [f"src/pkg{i % 40}/mod{i}.py" for i in range(files)]
    for number in range(1, commits + 1):
        now += rng.randint(600, 4 * 3600)
        if rng.random() < 0.004:
            now += 9 * 86400  # an idle gap: every entry expires
        changed: dict[str, str] = {}
        if number == 1:
            changed = {path: f"# {path}\n" for path in sources}
            changed |= {path: f"{path} 0\n" for path in DEPENDENCY_FILES}
        else:
            for path in rng.sample(sources, 3):
                changed[path] = f"# {path} {number}\n"
            for path, every in DEPENDENCY_FILES.items():
                if rng.random() < 1 / every:
                    changed[path] = f"{path} {number}\n"
        out.append(b"commit refs/heads/main\n")
        out.append(b"mark :%d\n" % number)
        stamp = b"%d +0000" % now
        out.append(b"author A <a@example.invalid> " + stamp + b"\n")
        out.append(b"committer A <a@example.invalid> " + stamp + b"\n")
        out.append(_blob(f"commit {number}"))
        if number > 1:
            out.append(b"from :%d\n" % (number - 1))
        for path, text in sorted(changed.items()):
            out.append(b"M 100644 inline " + path.encode() + b"\n" + _blob(text))
        out.append(b"\n")
    return b"".join(out)


def build_synthetic_repo(path: Path, commits: int, seed: int = 0) -> Path:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"],
        input=synthetic_stream(commits, seed),
        check=True,
        env=env,
    )
    return path


def run_speed(commits: int = 5000) -> int:
    with tempfile.TemporaryDirectory(prefix="history-speed-") as folder:
        started = time.perf_counter()
        repo = build_synthetic_repo(Path(folder) / "repo", commits)
        built = time.perf_counter() - started
        rows = []
        for strategy in shipped_strategies():
            started = time.perf_counter()
            history = read_history(repo, "main")
            with BlobReader(repo) as blobs:
                keys = evaluate_history([strategy], history, blobs)
            replays = replay_strategies(keys, history.runs, {strategy.name: 200_000_000}, 10**10)
            seconds = time.perf_counter() - started
            replay = replays[strategy.name]
            rows.append(
                [
                    strategy.name,
                    len(history.runs),
                    f"{seconds:.2f}",
                    "yes" if seconds < TARGET_SECONDS else "NO",
                    f"{replay.rate('exact'):.0%}",
                ]
            )
    print(f"synthetic repository: {commits} commits, built in {built:.1f} s")
    print(
        tabulate(
            rows,
            headers=["strategy", "runs", "seconds", f"under {TARGET_SECONDS:g} s", "exact"],
            tablefmt="github",
        )
    )
    return 0 if all(row[3] == "yes" for row in rows) else 1

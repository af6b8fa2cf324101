"""Each strategy's keys at each run, with the contexts a trial gives (``runner.os`` is Linux).

One walk over the history serves every strategy: the tree advances commit by commit and
``hashFiles`` results are kept until a commit touches a file their patterns match. A
strategy whose templates use no per-run context (``github.sha``, ``github.run_number``, ...)
keeps its previous keys when nothing it hashed or read changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.errors import BenchError
from bench.ghcache.hashfiles import HashFilesError
from bench.ghcache.keys import ValidationError, check_keys, parse_multiline
from bench.history.gitlog import BlobReader, History, read_tree
from bench.history.strategy import StepSpec, Strategy
from bench.history.treehash import HOME, WORKSPACE, TreeHasher
from bench.workflow.cachekeys import (
    SETUP_PYTHON_DEPENDENCY_FILES,
    SETUP_PYTHON_PIP_FALLBACK,
    setup_python_keys,
)
from bench.workflow.expressions import ExpressionError, condition_holds, interpolate
from bench.workflow.refs import parse_ref
from bench.workflow.uvkey import UvKeyParts, default_dependency_glob, prune_default, setup_uv_key

# The hosted ubuntu-latest image (spec section 10); only constancy matters for hit rates.
OS_VERSION, OS_NAME, OS_RELEASE = "24.04", "Ubuntu", "ubuntu-24.04"


@dataclass(frozen=True)
class StepKeys:
    """What one cache step asks the store for at one run (``primary`` None: no key, the step
    fails, as setup-python does when its dependency files match nothing)."""

    primary: str | None
    restore: tuple[str, ...] = ()
    version: str = ""  # the entry's identity beyond the key: what the paths were
    restores: bool = True
    saves: bool = True
    hashed_nothing: bool = False  # a hashFiles() in the key matched no file at this commit
    failure: str = ""  # why the step failed at this commit (a hashFiles() error)


@dataclass(frozen=True)
class CacheStepInfo:
    label: str
    kind: str


def cache_steps(strategy: Strategy) -> list[CacheStepInfo]:
    """The steps that touch the store (setup-python counts only with ``cache:``)."""
    return [
        CacheStepInfo(s.label, s.kind)
        for s in strategy.steps
        if s.kind != "setup-python" or s.inputs.get("cache", "").strip()
    ]


_PER_RUN = ("github", "job.", "strategy.")


def evaluate_history(
    strategies: list[Strategy], history: History, blobs: BlobReader
) -> dict[str, list[tuple[StepKeys, ...]]]:
    """strategy name -> per run, the keys of each of its cache steps."""
    hasher = TreeHasher(read_tree(history.repo, history.runs[0].commit), blobs.read)
    varies = {
        s.name: any(marker in text for text in s.texts() for marker in _PER_RUN) for s in strategies
    }
    out: dict[str, list[tuple[StepKeys, ...]]] = {s.name: [] for s in strategies}
    last: dict[str, tuple[tuple[StepKeys, ...], Callable[[], bool]]] = {}
    repository = history.repo.resolve().name.removesuffix(".git")
    for number, run in enumerate(history.runs, start=1):
        if number > 1:
            hasher.advance(run.changes)
        for strategy in strategies:
            previous = last.get(strategy.name)
            if previous is not None and not varies[strategy.name] and previous[1]():
                out[strategy.name].append(previous[0])
                continue
            tracker = _Tracker(hasher)
            github = _github(history.branch, run.commit, number, repository, strategy)
            keys = _strategy_keys(strategy, tracker, github)
            out[strategy.name].append(keys)
            last[strategy.name] = (keys, tracker.validity())
    return out


class _StepFailed(BenchError):
    """A cache step fails at this commit (hashFiles() failed, or setup-python found no file)."""

    def __init__(self, message: str, hashed_nothing: bool = False) -> None:
        super().__init__(message)
        self.hashed_nothing = hashed_nothing


class _Tracker:
    """hashFiles and file reads of one evaluation, to know when its keys go stale."""

    def __init__(self, hasher: TreeHasher) -> None:
        self.hasher = hasher
        self.calls: list[tuple[tuple[str, ...], bool]] = []
        self.reads: dict[str, int] = {}
        self.empty = False  # whether a hashFiles() call of the current step matched nothing

    def hash_files(self, *args: Any, follow: bool = False) -> str:
        texts = tuple(str(a) for a in args)
        self.calls.append((texts, follow))
        try:
            value = self.hasher.hash_files(*texts, follow_symbolic_links=follow)
        except HashFilesError as error:
            raise _StepFailed(str(error)) from None
        self.empty = self.empty or not value
        return value

    def read_text(self, path: str) -> str | None:
        self.reads[path] = self.hasher.path_version(path)
        return self.hasher.read_text(path)

    def validity(self) -> Callable[[], bool]:
        """A check that the keys computed now would come out the same."""
        hasher = self.hasher
        stamps = [
            (args, follow, hasher.stamp(*args, follow_symbolic_links=follow)[0])
            for args, follow in self.calls
        ]
        reads = dict(self.reads)

        def valid() -> bool:
            for args, follow, generation in stamps:
                if hasher.stamp(*args, follow_symbolic_links=follow) != (generation, True):
                    return False
            return all(hasher.path_version(p) == v for p, v in reads.items())

        return valid


def _github(branch: str, sha: str, number: int, repository: str, strategy: Strategy) -> dict:
    ref_name = branch.removeprefix("refs/heads/")
    return {
        "sha": sha,
        "ref": f"refs/heads/{ref_name}",
        "ref_name": ref_name,
        "ref_type": "branch",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "repository": f"owner/{repository}",
        "repository_owner": "owner",
        "workspace": WORKSPACE,
        "run_number": str(number),
        "run_id": str(1_000_000 + number),
        "run_attempt": "1",
        "workflow": strategy.workflow_name,
        "job": strategy.job,
        "actor": "owner",
        "server_url": "https://github.com",
        "action": "",
    }


def _contexts(strategy: Strategy, github: dict, env: dict[str, str], steps: dict) -> dict:
    return {
        "github": github,
        "runner": {
            "os": "Linux",
            "arch": "X64",
            "name": "GitHub Actions 1",
            "temp": "/home/runner/work/_temp",
            "tool_cache": "/opt/hostedtoolcache",
            "environment": "github-hosted",
        },
        "env": env,
        "matrix": strategy.matrix,
        "steps": steps,
        "strategy": {"fail-fast": True, "job-index": 0, "job-total": 1, "max-parallel": 1},
        "job": {"status": "success"},
        "vars": {},
        "secrets": {},
        "inputs": {},
        "needs": {},
    }


def _strategy_keys(strategy: Strategy, tracker: _Tracker, github: dict) -> tuple[StepKeys, ...]:
    """One entry per cache step (``cache_steps``), in order."""
    functions: dict[str, Callable[..., Any]] = {
        "hashfiles": tracker.hash_files,
        "success": lambda: True,
        "always": lambda: True,
        "failure": lambda: False,
        "cancelled": lambda: False,
    }
    steps_ctx: dict[str, Any] = {}
    env: dict[str, str] = {}
    keys: list[StepKeys] = []
    python_found = ""
    at = -1  # the step being evaluated (-1: the job's env)
    try:
        for name, value in strategy.env.items():
            env[name] = _interpolate(value, _contexts(strategy, github, env, steps_ctx), functions)
        for step in strategy.steps:
            at += 1
            python_found = _step_keys(
                strategy, step, env, steps_ctx, functions, tracker, python_found, github, keys
            )
    except _StepFailed as error:
        # The expression fails, so does the step and the job: no later step runs, and no post
        # step saves; the failing cache step is a miss.
        keys = [replace(k, saves=False) for k in keys]
        later = [s for s in strategy.steps[at + 1 :] if _is_cache_step(s)]
        if at >= 0 and _is_cache_step(strategy.steps[at]):
            keys.append(
                StepKeys(None, saves=False, failure=str(error), hashed_nothing=error.hashed_nothing)
            )
        keys += [StepKeys(None, restores=False, saves=False) for _ in later]
    return tuple(keys)


def _is_cache_step(step: StepSpec) -> bool:
    return step.kind != "setup-python" or bool(step.inputs.get("cache", "").strip())


def _step_keys(
    strategy: Strategy,
    step: StepSpec,
    env: dict[str, str],
    steps_ctx: dict[str, Any],
    functions: dict[str, Callable[..., Any]],
    tracker: _Tracker,
    python_found: str,
    github: dict,
    keys: list[StepKeys],
) -> str:
    """Append the step's keys (when it is a cache step); return the Python uv would find."""
    skipped = StepKeys(None, restores=False, saves=False)
    step_env = dict(env)
    contexts = _contexts(strategy, github, step_env, steps_ctx)
    for name, value in step.env.items():
        step_env[name] = _interpolate(value, contexts, functions)
    if step.condition is not None:
        try:
            if not condition_holds(step.condition, contexts, functions):
                if _is_cache_step(step):
                    keys.append(skipped)
                return python_found
        except ExpressionError:
            pass  # a condition on what only a real run knows: assume the step runs
    tracker.empty = False
    inputs = {k: _interpolate(v, contexts, functions) for k, v in step.inputs.items()}
    if step.kind == "setup-python":
        version = _python_version(inputs, tracker)
        if step.step_id:
            steps_ctx[step.step_id] = {
                "outputs": {
                    "python-version": version,
                    "python-path": f"/opt/hostedtoolcache/Python/{version}/x64/bin/python",
                    "cache-hit": "",
                },
                "outcome": "success",
                "conclusion": "success",
            }
        manager = inputs.get("cache", "").strip()
        if manager:
            keys.append(_setup_python(manager, inputs, version, tracker, step))
        elif _is_cache_step(step):
            keys.append(skipped)  # cache: given as an expression that came out empty
        return version
    if step.kind == "setup-uv":
        if inputs.get("enable-cache", "auto").strip().lower() == "false":
            keys.append(skipped)
        else:
            keys.append(_setup_uv(inputs, python_found, tracker, step))
        return python_found
    keys.append(replace(_cache(step, inputs), hashed_nothing=tracker.empty))
    return python_found


def _interpolate(text: str, contexts: dict, functions: dict) -> str:
    try:
        return interpolate(text, contexts, functions)
    except ExpressionError as error:
        raise BenchError(f"cannot evaluate {text!r}: {error}") from None


def _python_version(inputs: dict[str, str], tracker: _Tracker) -> str:
    spec = inputs.get("python-version", "").strip()
    if spec:
        return spec.splitlines()[0].strip()
    file = inputs.get("python-version-file", "").strip() or ".python-version"
    text = tracker.read_text(file)
    words = text.split() if text else []
    return words[0] if words else "unknown"


def _cache(step: StepSpec, inputs: dict[str, str]) -> StepKeys:
    primary = inputs.get("key", "").strip()
    restore = tuple(parse_multiline(inputs.get("restore-keys", "")))
    paths = "\n".join(parse_multiline(inputs.get("path", "")))
    if not primary:  # "Input required and not supplied: key": the step fails
        return StepKeys(None, version=f"cache|{paths}", restores=step.kind != "save", saves=False)
    try:
        check_keys(primary, list(restore))
    except ValidationError as error:
        raise BenchError(f"{step.label}: {error}") from None
    return StepKeys(
        primary=primary,
        restore=restore if step.kind != "save" else (),
        version=f"cache|{paths}",
        restores=step.kind != "save",
        saves=step.kind != "restore",
    )


def _setup_python(
    manager: str, inputs: dict[str, str], version: str, tracker: _Tracker, step: StepSpec
) -> StepKeys:
    if manager not in SETUP_PYTHON_DEPENDENCY_FILES:
        raise BenchError(f"{step.label}: setup-python cache {manager!r} is not pip/pipenv/poetry")
    given = parse_multiline(inputs.get("cache-dependency-path", ""))
    digest = tracker.hash_files(*(given or SETUP_PYTHON_DEPENDENCY_FILES[manager]), follow=True)
    if not digest and manager == "pip" and not given:
        digest = tracker.hash_files(*SETUP_PYTHON_PIP_FALLBACK, follow=True)
    if not digest:
        raise _StepFailed(
            "setup-python: Some specified paths were not resolved, unable to cache dependencies.",
            hashed_nothing=True,
        )
    keys = setup_python_keys(
        runner_os="Linux",
        arch="x64",
        os_version=OS_VERSION,
        os_name=OS_NAME,
        python_version=version,
        manager=manager,
        digest=digest,
    )
    return StepKeys(keys.primary, keys.restore, version=f"setup-python|{manager}")


def _setup_uv(
    inputs: dict[str, str], python_found: str, tracker: _Tracker, step: StepSpec
) -> StepKeys:
    """The key the version of setup-uv the step names computes (``workflow.uvkey``)."""
    ref = parse_ref(step.uses)
    lines = parse_multiline(inputs.get("cache-dependency-glob", "")) or list(
        default_dependency_glob(ref)
    )
    folder = inputs.get("working-directory", "").strip().strip("/")
    if folder:
        lines = [_under(folder, line) for line in lines]
    digest = tracker.hash_files(*lines, follow=True)
    prune = inputs.get("prune-cache", "").strip().lower()
    parts = UvKeyParts(
        python=inputs.get("python-version", "").strip() or python_found or "unknown",
        files_hash=digest,
        os_name_version=OS_RELEASE,
        pruned=prune == "true" if prune else prune_default(ref),
        cache_python=inputs.get("cache-python", "false").strip() == "true",
        suffix=inputs.get("cache-suffix", "").strip(),
    )
    return StepKeys(
        setup_uv_key(parts, ref),
        version=f"setup-uv|{inputs.get('cache-local-path', '')}",
        restores=inputs.get("restore-cache", "true").strip() != "false",
        saves=inputs.get("save-cache", "true").strip() != "false",
        hashed_nothing=not digest,
    )


def _under(folder: str, line: str) -> str:
    negate = ""
    while line.startswith("!"):
        negate += "!"
        line = line[1:]
    if line.startswith(("/", "~")):
        return negate + line
    return f"{negate}{folder}/{line}"


__all__ = ["HOME", "StepKeys", "cache_steps", "evaluate_history"]

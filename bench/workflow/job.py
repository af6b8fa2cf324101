"""Run a workflow's job in a sandbox: steps in order, post steps in reverse, every step measured.

Phases: a cache action's step is ``restore`` (its post step ``save``), ``actions/cache/save`` is
``save``, checkout and setup-python are ``setup`` (setup-python's own cache restore is split out
as ``restore``). A ``run:`` step that runs pytest is ``test``; any other ``run:`` step is
``install``. A step's ``env: {BENCH_PHASE: ...}`` overrides the rule (GitHub ignores it).
"""

from __future__ import annotations

import contextlib
import re
import resource
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.errors import BenchError
from bench.ghcache.archive import listing_totals
from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.mirror.server import MirrorServer
from bench.results import StepRecord
from bench.runner.measure import run_measured
from bench.vocabulary import PHASES
from bench.workflow import expressions as expr
from bench.workflow.actions import ActionContext, ActionError, ActionResult, PostStep, find_action
from bench.workflow.model import Step, Workflow

PHASE_VARIABLE = "BENCH_PHASE"
_SHELL_COMMANDS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
    "sh": ["sh", "-e"],
    "python": ["python"],
}


@dataclass
class JobResult:
    success: bool
    steps: list[StepRecord]
    outputs: dict[str, dict[str, str]]
    error: str | None = None  # the first failure, for the record


class JobFailure(BenchError):
    pass


class JobRun:
    """One execution of a workflow's job; ``run()`` returns a ``JobResult``."""

    def __init__(
        self,
        workflow: Workflow,
        ctx: ActionContext,
        *,
        log: IO[bytes],
        mirror: MirrorServer | None = None,
        session_prefix: str = "job",
    ) -> None:
        self.workflow = workflow
        self.ctx = ctx
        self.log = log
        self.mirror = mirror
        self.session_prefix = session_prefix
        self.base_env = dict(ctx.env)
        self.exported: dict[str, str] = {}
        self.path_additions: list[str] = []
        self.steps_context: dict[str, dict[str, Any]] = {}
        self.status = "success"
        self.records: list[StepRecord] = []
        self.posts: list[tuple[Step, PostStep]] = []
        self.first_error: str | None = None

    # -- the contexts expressions see ------------------------------------------------------

    def contexts(self, env: dict[str, str]) -> dict[str, Any]:
        sandbox = self.ctx.sandbox
        return {
            "github": {
                "workspace": str(sandbox.workspace),
                "ref": self.base_env["GITHUB_REF"],
                "ref_name": self.base_env["GITHUB_REF_NAME"],
                "repository": self.base_env["GITHUB_REPOSITORY"],
                "event_name": self.base_env["GITHUB_EVENT_NAME"],
                "run_id": self.base_env["GITHUB_RUN_ID"],
                "run_number": self.base_env["GITHUB_RUN_NUMBER"],
                "job": self.base_env["GITHUB_JOB"],
                "action_path": "",
                "sha": "0" * 40,
            },
            "runner": {
                "os": "Linux",
                "arch": "X64",
                "name": self.base_env["RUNNER_NAME"],
                "temp": str(sandbox.temp),
                "tool_cache": str(sandbox.tool_cache),
                "environment": "github-hosted",
            },
            "env": dict(env),
            "steps": self.steps_context,
            "matrix": dict(self.workflow.matrix),
            "job": {"status": self.status},
        }

    def functions(self) -> dict[str, expr.Function]:
        sandbox = self.ctx.sandbox

        def hash_files_function(*patterns: Any) -> str:
            try:
                return hash_files(
                    [expr.to_string(p) for p in patterns],
                    workspace=sandbox.workspace,
                    home=sandbox.home,
                )
            except HashFilesError as error:
                raise expr.ExpressionError(f"hashFiles: {error}") from None

        return {
            "hashfiles": hash_files_function,
            "success": lambda: self.status == "success",
            "failure": lambda: self.status == "failure",
            "always": lambda: True,
            "cancelled": lambda: False,
        }

    def job_env(self) -> dict[str, str]:
        """Base, workflow and job env (interpolated in order), then what GITHUB_ENV exported."""
        env = dict(self.base_env)
        functions = self.functions()
        for layer in (self.workflow.env, self.workflow.job_env):
            for name, value in layer.items():
                env[name] = expr.interpolate(value, self.contexts(env), functions)
        env.update(self.exported)
        if self.path_additions:
            env["PATH"] = ":".join([*reversed(self.path_additions), self.base_env["PATH"]])
        return env

    # -- running -----------------------------------------------------------------------------

    def run(self) -> JobResult:
        for step in self.workflow.steps:
            self._run_main(step)
        for step, post in reversed(self.posts):
            self._run_post(step, post)
        summary = self._step_summary()
        if summary.is_file():
            self.log.write(b"\n## Job summary (GITHUB_STEP_SUMMARY)\n" + summary.read_bytes())
        return JobResult(
            success=self.status == "success",
            steps=self.records,
            outputs={k: dict(v["outputs"]) for k, v in self.steps_context.items()},
            error=self.first_error,
        )

    def _where(self, step: Step) -> str:
        return f"{self.workflow.path}: step {step.index} ({step.label})"

    def _run_main(self, step: Step) -> None:
        record = StepRecord(step.index, step.label, "main", step.uses, "setup", "skipped")
        self.records.append(record)
        env = self.job_env()
        contexts = self.contexts(env)
        functions = self.functions()
        try:
            if not expr.condition_holds(step.if_, contexts, functions):
                self._remember(step, "skipped", {})
                return
            step_env = env | {
                k: expr.interpolate(v, contexts, functions) for k, v in step.env.items()
            }
            contexts = self.contexts(step_env)
            record.name = (
                expr.interpolate(step.name, contexts, functions) if step.name else step.label
            )
            if step.run is not None:
                default = "test" if _PYTEST.search(step.run) else "install"
                record.phase = _step_phase(step, step_env, default)
                outcome = self._measure(
                    record, step, lambda: self._run_script(step, step_env, contexts)
                )
            else:
                assert step.uses is not None
                handler, accepted, phase = find_action(step.uses)
                record.phase = _step_phase(step, step_env, phase)
                inputs = {}
                for name, value in step.with_.items():
                    if name not in accepted:
                        raise ActionError(f"{step.uses} has no input {name!r}")
                    inputs[name] = expr.interpolate(value, contexts, functions)
                self.ctx.env = step_env
                outcome = self._measure(record, step, lambda: handler(inputs, self.ctx))
        except (expr.ExpressionError, ActionError) as error:
            raise JobFailure(f"{self._where(step)}: {error}") from None
        self._finish(step, record, outcome)
        if outcome.post is not None and outcome.ok:
            self.posts.append((step, outcome.post))

    def _run_post(self, step: Step, post: PostStep) -> None:
        record = StepRecord(step.index, post.label, "post", step.uses, post.phase, "skipped")
        self.records.append(record)
        env = self.job_env()
        if not expr.condition_holds(post.condition, self.contexts(env), self.functions()):
            return
        self.ctx.env = env
        outcome = self._measure(record, step, lambda: post.run(self.ctx))
        self._finish(step, record, outcome, post=True)

    def _finish(
        self, step: Step, record: StepRecord, outcome: ActionResult, post: bool = False
    ) -> None:
        record.outcome = "success" if outcome.ok else "failure"
        record.outputs = dict(outcome.outputs)
        self._write_log(record, outcome.log)
        self.exported.update(outcome.env)
        self.path_additions.extend(outcome.path)
        if not post:
            self._remember(step, record.outcome, outcome.outputs)
        if not outcome.ok:
            message = next((line for line in reversed(outcome.log) if line.strip()), "failed")
            record.error = message
            continue_on_error = str(step.continue_on_error).lower() == "true" and not post
            if not continue_on_error:
                self.status = "failure"
                self.first_error = (
                    self.first_error or f"step {step.index} ({record.name}): {message}"
                )

    def _remember(self, step: Step, outcome: str, outputs: dict[str, str]) -> None:
        if step.id is not None:
            conclusion = outcome
            if outcome == "failure" and str(step.continue_on_error).lower() == "true":
                conclusion = "success"
            self.steps_context[step.id] = {
                "outputs": dict(outputs),
                "outcome": outcome,
                "conclusion": conclusion,
            }

    def _measure(self, record: StepRecord, step: Step, body: Any) -> ActionResult:
        session = f"{self.session_prefix}/{record.stage}/{step.index}"
        before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_self = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter_ns()
        with self._mirror_session(session):
            outcome: ActionResult = body()
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
            record.phases_ns = {
                "restore": restore_ns,
                record.phase: record.duration_ns - restore_ns,
            }
        else:
            record.phases_ns = {record.phase: record.duration_ns}
        if self.mirror is not None:
            counters = self.mirror.stats(session)
            record.mirror_requests = counters.requests
            record.mirror_bytes = counters.bytes_sent
            record.mirror_files = counters.files_served
        if outcome.cache is not None:
            record.cache = self._describe_cache(outcome)
        return outcome

    def _describe_cache(self, outcome: ActionResult) -> dict[str, Any]:
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
    def _mirror_session(self, name: str) -> Iterator[None]:
        if self.mirror is None:
            yield
        else:
            with self.mirror.session(name):
                yield

    def _run_script(
        self, step: Step, env: dict[str, str], contexts: dict[str, Any]
    ) -> ActionResult:
        sandbox = self.ctx.sandbox
        script = expr.interpolate(step.run or "", contexts, self.functions())
        commands = self._step_summary().parent
        commands.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        files = {
            name: commands / f"{name.lower()}_{token}"
            for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STATE")
        }
        for path in files.values():
            path.touch()
        env = env | {name: str(path) for name, path in files.items()}
        env["GITHUB_STEP_SUMMARY"] = str(self._step_summary())
        shell = (step.shell or self.workflow.default_shell or "bash").split()[0]
        script_path = sandbox.temp / f"{token}.{'py' if shell == 'python' else 'sh'}"
        script_path.write_text(script)
        working = step.working_directory or self.workflow.default_working_directory or ""
        working = expr.interpolate(working, contexts, self.functions())
        cwd = sandbox.workspace / working
        if not cwd.is_dir():
            return ActionResult(ok=False, log=[f"working-directory {working!r} does not exist"])
        self.log.write(f"\n## {step.label}\n$ {script.strip()}\n".encode())
        self.log.flush()
        measured = run_measured(
            [*_SHELL_COMMANDS[shell], str(script_path)], cwd=cwd, env=env, output=self.log
        )
        script_path.unlink(missing_ok=True)
        outputs = _read_key_values(files["GITHUB_OUTPUT"])
        exported = _read_key_values(files["GITHUB_ENV"])
        added_paths = [
            line.strip() for line in files["GITHUB_PATH"].read_text().splitlines() if line.strip()
        ]
        ok = measured.returncode == 0
        log = [] if ok else [f"Process completed with exit code {measured.returncode}."]
        return ActionResult(
            ok=ok, outputs=outputs, env=exported, path=added_paths, log=log, process=measured
        )

    def _step_summary(self) -> Path:
        """One GITHUB_STEP_SUMMARY file for the whole job, beside the other file commands."""
        return self.ctx.sandbox.temp / "_runner_file_commands" / "step_summary.md"

    def _write_log(self, record: StepRecord, lines: list[str]) -> None:
        if lines:
            text = "".join(f"{line}\n" for line in lines)
            self.log.write(f"\n## {record.name} ({record.stage})\n{text}".encode())
            self.log.flush()


_PYTEST = re.compile(r"(^|[\s/;&|(])(py\.test|pytest)(\s|$)|-m\s+pytest")


def _step_phase(step: Step, env: dict[str, str], default: str) -> str:
    """The step's own ``BENCH_PHASE`` (validated), else the rule's ``default``."""
    if PHASE_VARIABLE not in step.env:
        return default
    phase = env[PHASE_VARIABLE]
    if phase not in PHASES:
        raise ActionError(f"{PHASE_VARIABLE} {phase!r} is not one of {', '.join(PHASES)}")
    return phase


def _read_key_values(path: Path) -> dict[str, str]:
    """``NAME=value`` lines and ``NAME<<DELIMITER`` blocks, as GITHUB_ENV and GITHUB_OUTPUT."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values

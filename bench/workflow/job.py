"""Run a workflow's job in a sandbox: steps in order, post steps in reverse, every step measured.

Phases: a cache action's step is ``restore`` (its post step ``save``), ``actions/cache/save`` is
``save``, checkout, setup-python and setup-uv are ``setup`` (their own cache restore is split
out as ``restore``), stand-ins are ``setup`` (and take no time). A ``run:`` step that runs
pytest is ``test``; any other ``run:`` step is ``install``. A step's ``env: {BENCH_PHASE: ...}``
overrides the rule (GitHub ignores it). A local composite action's steps are recorded one by
one, as steps of the job (``part_of`` names the action).

The contexts live in ``contexts``, file commands in ``filecommands``, measuring in
``stepmeasure``; this module only sequences.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import IO, Any

from bench.errors import BenchError
from bench.mirror.server import MirrorServer
from bench.runner.measure import run_measured
from bench.vocabulary import PHASES
from bench.workflow import contexts as ctxs
from bench.workflow import expressions as expr
from bench.workflow.actions import ActionContext, ActionError, ActionResult, PostStep
from bench.workflow.filecommands import FileCommands, summary_path
from bench.workflow.handlers import handler_for
from bench.workflow.model import Step, Workflow
from bench.workflow.registry import UnknownAction, find_spec
from bench.workflow.stepmeasure import measure
from bench.workflow.steprecord import JobResult, StepRecord

PHASE_VARIABLE = "BENCH_PHASE"
_SHELL_COMMANDS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
    "sh": ["sh", "-e"],
    "python": ["python"],
}
# What an emulated action's own bug raises: the step (one trial) fails, not the whole run.
_INTERNAL_ERRORS = (
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    NotImplementedError,
    UnicodeError,
    TypeError,
)
# A step that runs the tests: pytest, unittest, Django's ``manage.py test``, ``make test``,
# ``hatch test``, a repository's ``scripts/test``. tox and nox are left to ``install``: they
# build their environments first, which is most of what caching changes.
_TESTS = re.compile(
    r"(^|[\s/;&|(])(py\.test|pytest|scripts/test)(\s|$)|-m\s+(pytest|unittest)(\s|$)"
    r"|manage\.py\s+test(\s|$)|(^|[\s;&|(])(make|hatch)\s+test(\s|$)"
)
_INSTALLS = re.compile(r"(^|\s)(install|add|sync)(\s|$)")  # "pip install pytest" installs it
_COMMANDS = re.compile(r"\n|&&|\|\||;")


def _runs_tests(script: str) -> bool:
    """Whether one of the script's commands runs the tests (not merely installs a runner)."""
    joined = script.replace("\\\n", " ")  # a command continued on the next line is one
    return any(
        _TESTS.search(command) and not _INSTALLS.search(command)
        for command in _COMMANDS.split(joined)
    )


__all__ = ["JobFailure", "JobResult", "JobRun", "StepRecord"]


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
        ctx.workflow_name, ctx.job_id = workflow.name, workflow.job_name
        self.exported: dict[str, str] = {}
        self.path_additions: list[str] = []
        self.scope = ctxs.Scope()
        self.status = "success"
        self.records: list[StepRecord] = []
        self.posts: list[tuple[Step, PostStep, ctxs.Scope]] = []
        self.first_error: str | None = None

    def contexts(self, env: dict[str, str], scope: ctxs.Scope | None = None) -> dict[str, Any]:
        return ctxs.contexts(
            self.workflow, self.ctx.sandbox, self.base_env, env, scope or self.scope, self.status
        )

    def functions(self) -> dict[str, expr.Function]:
        return ctxs.functions(self.ctx.sandbox, lambda: self.status)

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
        self._write_preamble()
        for step in self.workflow.steps:
            self._run_main(step, self.scope, {})
        for step, post, scope in reversed(self.posts):
            self._run_post(step, post, scope)
        summary = summary_path(self.ctx.sandbox.temp)
        if summary.is_file():
            self.log.write(b"\n## Job summary (GITHUB_STEP_SUMMARY)\n" + summary.read_bytes())
        return JobResult(
            success=self.status == "success",
            steps=self.records,
            outputs={k: dict(v["outputs"]) for k, v in self.scope.steps.items()},
            error=self.first_error,
        )

    def _write_preamble(self) -> None:
        lines = [f"job {self.workflow.job_name} of {self.workflow.path}"]
        lines += [f"set aside: {line}" for line in self.workflow.set_aside]
        self.log.write(("\n".join(lines) + "\n").encode())
        self.log.flush()

    def _where(self, step: Step, scope: ctxs.Scope) -> str:
        inside = f"{scope.part_of} → " if scope.part_of else ""
        job = f"{self.workflow.path}: job {self.workflow.job_name}"
        return f"{job}: {inside}step {step.index} ({step.label})"

    def _run_main(self, step: Step, scope: ctxs.Scope, outer_env: dict[str, str]) -> None:
        if step.composite is not None:
            self._run_composite(step, scope, outer_env)
            return
        record = StepRecord(step.index, step.label, "main", step.uses, "setup", "skipped")
        record.part_of = scope.part_of
        self.records.append(record)
        env = self.job_env() | outer_env
        contexts = self.contexts(env, scope)
        functions = self.functions()
        try:
            if not expr.condition_holds(step.if_, contexts, functions):
                self._remember(step, scope, "skipped", {})
                return
            step_env = (
                env
                | _env_mapping(step, contexts, functions)
                | {k: expr.interpolate(v, contexts, functions) for k, v in step.env.items()}
            )
            contexts = self.contexts(step_env, scope)
            record.name = (
                expr.interpolate(step.name, contexts, functions) if step.name else step.label
            )
            if step.run is not None:
                default = "test" if _runs_tests(step.run) else "install"
                record.phase = _step_phase(step, step_env, default)
                outcome = self._measure(
                    record, step, scope, lambda: self._run_script(step, step_env, contexts, scope)
                )
            else:
                assert step.action is not None
                spec = find_spec(step.action)
                handler = handler_for(spec)
                inputs = {}
                for name, value in step.with_.items():
                    if spec.inputs is not None and name not in spec.inputs:
                        raise ActionError(f"{step.uses} has no input {name!r}")
                    inputs[name] = expr.interpolate(value, contexts, functions)
                default = spec.phase
                if spec.command_input and _runs_tests(inputs.get(spec.command_input, "")):
                    default = "test"
                record.phase = _step_phase(step, step_env, default)
                self.ctx.env = step_env
                self.ctx.action = step.action
                outcome = self._measure(
                    record,
                    step,
                    scope,
                    lambda: _guarded(step.uses, lambda: handler(inputs, self.ctx)),
                )
        except (BenchError, UnknownAction) as error:  # expressions, actions, interpreters
            raise JobFailure(f"{self._where(step, scope)}: {error}") from None
        self._finish(step, scope, record, outcome)
        if outcome.ok:
            for post in [outcome.post, *outcome.more_posts]:
                if post is not None:
                    self.posts.append((step, post, scope))

    def _run_composite(self, step: Step, scope: ctxs.Scope, outer_env: dict[str, str]) -> None:
        """A local composite action: its steps run (and are recorded) as the job's, with its
        ``inputs`` and its own ``steps`` context; its outputs come from its ``outputs``."""
        composite = step.composite
        assert composite is not None
        env = self.job_env() | outer_env
        contexts = self.contexts(env, scope)
        functions = self.functions()
        try:
            if not expr.condition_holds(step.if_, contexts, functions):
                self._remember(step, scope, "skipped", {})
                return
            step_env = outer_env | {
                k: expr.interpolate(v, contexts, functions) for k, v in step.env.items()
            }
            inputs = {
                i.name: expr.interpolate(i.default, contexts, functions) for i in composite.inputs
            }
            inputs |= {k: expr.interpolate(v, contexts, functions) for k, v in step.with_.items()}
            missing = [i.name for i in composite.inputs if i.required and not inputs.get(i.name)]
        except expr.ExpressionError as error:
            raise JobFailure(f"{self._where(step, scope)}: {error}") from None
        if missing:
            self.log.write(
                f"\nWarning: {step.uses}: required input(s) {', '.join(missing)} unset\n".encode()
            )
        inner = ctxs.Scope(
            inputs=inputs,
            action_path=str(composite.path),
            part_of=f"{step.label}" if not scope.part_of else f"{scope.part_of} → {step.label}",
            tolerate_failure=scope.tolerate_failure or _true(step.continue_on_error),
        )
        self.log.write(f"\n## {step.label} (composite action {step.uses})\n".encode())
        status_before = self.status
        failures_before = sum(r.outcome == "failure" for r in self.records)
        for inner_step in composite.steps:
            self._run_main(inner_step, inner, step_env)
        failed = sum(r.outcome == "failure" for r in self.records) > failures_before
        try:
            outputs = {
                name: expr.interpolate(value, self.contexts(self.job_env(), inner), functions)
                for name, value in composite.outputs.items()
            }
        except expr.ExpressionError as error:
            raise JobFailure(f"{self._where(step, scope)}: outputs: {error}") from None
        if inner.tolerate_failure and not scope.tolerate_failure:
            self.status = status_before
        self._remember(step, scope, "failure" if failed else "success", outputs)

    def _run_post(self, step: Step, post: PostStep, scope: ctxs.Scope) -> None:
        record = StepRecord(step.index, post.label, "post", step.uses, post.phase, "skipped")
        record.part_of = scope.part_of
        self.records.append(record)
        env = self.job_env()
        if not expr.condition_holds(post.condition, self.contexts(env, scope), self.functions()):
            return
        self.ctx.env = env
        self.ctx.action = step.action
        outcome = self._measure(
            record, step, scope, lambda: _guarded(step.uses, lambda: post.run(self.ctx))
        )
        self._finish(step, scope, record, outcome, post=True)

    def _finish(
        self,
        step: Step,
        scope: ctxs.Scope,
        record: StepRecord,
        outcome: ActionResult,
        post: bool = False,
    ) -> None:
        record.outcome = "success" if outcome.ok else "failure"
        record.outputs = dict(outcome.outputs)
        self._write_log(record, outcome.log)
        self.exported.update(outcome.env)
        self.path_additions.extend(outcome.path)
        if not post:
            self._remember(step, scope, record.outcome, outcome.outputs)
        if not outcome.ok:
            message = next((line for line in reversed(outcome.log) if line.strip()), "failed")
            record.error = message
            tolerated = (_true(step.continue_on_error) or scope.tolerate_failure) and not post
            if not tolerated:
                self.status = "failure"
                self.first_error = (
                    self.first_error or f"step {step.index} ({record.name}): {message}"
                )

    def _remember(
        self, step: Step, scope: ctxs.Scope, outcome: str, outputs: dict[str, str]
    ) -> None:
        if step.id is not None:
            conclusion = outcome
            if outcome == "failure" and _true(step.continue_on_error):
                conclusion = "success"
            scope.steps[step.id] = {
                "outputs": dict(outputs),
                "outcome": outcome,
                "conclusion": conclusion,
            }

    def _measure(
        self,
        record: StepRecord,
        step: Step,
        scope: ctxs.Scope,
        body: Callable[[], ActionResult],
    ) -> ActionResult:
        position = len([r for r in self.records if r.stage == record.stage])
        session = f"{self.session_prefix}/{record.stage}/{step.index}"
        if scope.part_of or record.stage == "post":  # one step may have several posts
            session += f".{position}"
        return measure(record, session, self.mirror, body)

    def _run_script(
        self,
        step: Step,
        env: dict[str, str],
        contexts: dict[str, Any],
        scope: ctxs.Scope,
    ) -> ActionResult:
        sandbox = self.ctx.sandbox
        script = expr.interpolate(step.run or "", contexts, self.functions())
        commands = FileCommands.create(sandbox.temp)
        env = env | commands.environment()
        if scope.action_path:
            env["GITHUB_ACTION_PATH"] = scope.action_path
        written = step.shell or self.workflow.default_shell or "bash"
        shell = written.split()[0]
        script_path = commands.script(".py" if shell == "python" else ".sh")
        script_path.write_text(script)
        if shell in _SHELL_COMMANDS and "{0}" not in written:
            command = [*_SHELL_COMMANDS[shell], str(script_path)]
        else:  # a template: ``<command> [options] {0}``, {0} the script, run exactly as written
            # (``bash {0}`` has no -e and no pipefail, as on GitHub)
            template = expr.interpolate(written, contexts, self.functions())
            try:
                words = shlex.split(template)
            except ValueError as error:
                raise ActionError(
                    f"shell {template!r} cannot be split into words: {error}"
                ) from None
            command = [str(script_path) if w == "{0}" else w for w in words]
        working = step.working_directory
        if working is None and not scope.part_of:
            working = self.workflow.default_working_directory
        working = expr.interpolate(working or "", contexts, self.functions())
        cwd = sandbox.workspace / working
        if not cwd.is_dir():
            return ActionResult(ok=False, log=[f"working-directory {working!r} does not exist"])
        self.log.write(f"\n## {step.label}\n$ {script.strip()}\n".encode())
        self.log.flush()
        measured = run_measured(command, cwd=cwd, env=env, output=self.log)
        script_path.unlink(missing_ok=True)
        ok = measured.returncode == 0
        log = [] if ok else [f"Process completed with exit code {measured.returncode}."]
        return ActionResult(
            ok=ok,
            outputs=commands.outputs(),
            env=commands.exported(),
            path=commands.paths(),
            log=log,
            process=measured,
        )

    def _write_log(self, record: StepRecord, lines: list[str]) -> None:
        if lines:
            text = "".join(f"{line}\n" for line in lines)
            self.log.write(f"\n## {record.name} ({record.stage})\n{text}".encode())
            self.log.flush()


def _guarded(uses: str | None, call: Callable[[], ActionResult]) -> ActionResult:
    """``call()``, an unexpected exception of an emulated action becoming a one-line
    :class:`ActionError` (BenchError and OSError pass as they are)."""
    try:
        return call()
    except _INTERNAL_ERRORS as error:
        if isinstance(error, BenchError):
            raise
        first = (str(error).strip().splitlines() or [""])[0]
        words = f"{type(error).__name__}: {first}" if first else type(error).__name__
        raise ActionError(f"internal error in {uses}: {words}") from error


def _env_mapping(
    step: Step, contexts: dict[str, Any], functions: dict[str, expr.Function]
) -> dict[str, str]:
    """``env: ${{ matrix.env }}``: the mapping the expression gives, values as strings."""
    if step.env_from is None:
        return {}
    value = expr.evaluate(expr.split_template(step.env_from.strip())[0][1], contexts, functions)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ActionError(f"env {step.env_from} is not a mapping")
    return {str(k): expr.to_string(v) for k, v in value.items()}


def _true(value: bool | str) -> bool:
    return str(value).strip().lower() == "true"


def _step_phase(step: Step, env: dict[str, str], default: str) -> str:
    """The step's own ``BENCH_PHASE`` (validated), else the rule's ``default``."""
    if PHASE_VARIABLE not in step.env:
        return default
    phase = env[PHASE_VARIABLE]
    if phase not in PHASES:
        raise ActionError(f"{PHASE_VARIABLE} {phase!r} is not one of {', '.join(PHASES)}")
    return phase

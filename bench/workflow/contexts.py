"""The contexts and functions ``${{ }}`` expressions see while a job runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.ghcache.hashfiles import HashFilesError, hash_files
from bench.runner.sandbox import Sandbox
from bench.workflow import expressions as expr
from bench.workflow.model import Workflow


@dataclass
class Scope:
    """What one list of steps sees: the job's own, or a local composite action's."""

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    action_path: str = ""
    part_of: str | None = None  # the composite action's label, for the records
    tolerate_failure: bool = False  # the composite step has continue-on-error


def contexts(
    workflow: Workflow,
    sandbox: Sandbox,
    base_env: dict[str, str],
    env: dict[str, str],
    scope: Scope,
    status: str,
) -> dict[str, Any]:
    return {
        "github": {
            "workspace": str(sandbox.workspace),
            "ref": base_env["GITHUB_REF"],
            "ref_name": base_env["GITHUB_REF_NAME"],
            "ref_type": "branch",
            "repository": base_env["GITHUB_REPOSITORY"],
            "repository_owner": base_env["GITHUB_REPOSITORY"].split("/")[0],
            "event_name": base_env["GITHUB_EVENT_NAME"],
            "event": {},
            "run_id": base_env["GITHUB_RUN_ID"],
            "run_number": base_env["GITHUB_RUN_NUMBER"],
            "run_attempt": "1",
            "job": workflow.job_name,
            "workflow": workflow.name,
            "action_path": scope.action_path,
            "sha": "0" * 40,
            "token": "",
            "actor": "bench",
            "server_url": "https://github.invalid",
            "head_ref": "",
            "base_ref": "",
        },
        "runner": {
            "os": "Linux",
            "arch": "X64",
            "name": base_env["RUNNER_NAME"],
            "temp": str(sandbox.temp),
            "tool_cache": str(sandbox.tool_cache),
            "environment": "github-hosted",
        },
        "env": dict(env),
        "steps": scope.steps,
        "inputs": dict(scope.inputs),
        "matrix": dict(workflow.matrix),
        "strategy": {
            "fail-fast": True,
            "job-index": 0,
            "job-total": max(workflow.cells, 1),
            "max-parallel": max(workflow.cells, 1),
        },
        "job": {"status": status},
        "needs": {},  # the job runs alone (its needs are set aside)
        "secrets": {"GITHUB_TOKEN": ""},
        "vars": {},
    }


def functions(sandbox: Sandbox, status: Callable[[], str]) -> dict[str, expr.Function]:
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
        "success": lambda: status() == "success",
        "failure": lambda: status() == "failure",
        "always": lambda: True,
        "cancelled": lambda: False,
    }

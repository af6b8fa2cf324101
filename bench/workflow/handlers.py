"""The code that runs each action ``registry`` names (imported only to run a job)."""

from __future__ import annotations

from collections.abc import Callable

from bench.workflow import (
    actions,
    cache_python_deps,
    cached_uv,
    precommit,
    retry,
    ruff_action,
    setup_node,
    setup_pdm,
    setup_python,
    setup_uv,
    smallactions,
    standins,
)
from bench.workflow.actions import ActionContext, ActionResult
from bench.workflow.registry import BUILTIN, STAND_INS, ActionSpec

Handler = Callable[[dict[str, str], ActionContext], ActionResult]

HANDLERS: dict[str, Handler] = {
    "actions/checkout": actions.checkout,
    "actions/setup-python": setup_python.setup_python,
    "actions/cache": actions.cache,
    "actions/cache/restore": actions.cache_restore,
    "actions/cache/save": actions.cache_save,
    "astral-sh/setup-uv": setup_uv.setup_uv,
    "snok/install-poetry": standins.install_poetry,
    "hynek/setup-cached-uv": cached_uv.setup_cached_uv,
    "actions/setup-node": setup_node.setup_node,
    "juliangruber/read-file-action": smallactions.read_file,
    "DamianReeves/write-file-action": smallactions.write_file,
    "CodSpeedHQ/action": smallactions.codspeed,
    "pre-commit/action": precommit.pre_commit,
    "pdm-project/setup-pdm": setup_pdm.setup_pdm,
    "pypa/hatch": standins.install_hatch,
    "nick-fields/retry": retry.retry,
    "astral-sh/ruff-action": ruff_action.ruff_action,
    "re-actors/cache-python-deps": cache_python_deps.cache_python_deps,
    "re-actors/checkout-python-sdist": smallactions.checkout_python_sdist,
}
assert set(HANDLERS) == set(BUILTIN), "every built-in action has a handler"


def handler_for(spec: ActionSpec) -> Handler:
    if spec.name in STAND_INS:
        return standins.stand_in
    return HANDLERS[spec.name]

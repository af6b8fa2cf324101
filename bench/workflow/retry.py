"""nick-fields/retry: a command run until it succeeds, as the action runs it.

Each attempt runs ``command`` (``new_command_on_retry`` after the first) with ``<shell> -c``
(bash unless ``shell`` says sh or python) in the workspace, killed after ``timeout_minutes`` or
``timeout_seconds``. The action polls for the command's end every ``polling_interval_seconds``
(1), so an attempt lasts a whole number of intervals; a failed attempt waits
``retry_wait_seconds`` (10; a negative wait is none, as ``setTimeout``'s) before the next one
(or the step's failure). ``exit_error`` is the action's message (``Final attempt failed.
Child_process exited with error code N`` after the last attempt). ``retry_on`` (any,
error, timeout) and ``retry_on_exit_code`` decide whether to try again, ``on_retry_command``
runs between attempts, ``continue_on_error`` turns a final failure into success. Outputs:
``total_attempts``, ``exit_code``, ``exit_error``. The step's phase follows its command, as a
``run:`` step's does (``test`` when it runs pytest).
"""

from __future__ import annotations

import math
import subprocess
import time

from bench.workflow.actions import ActionContext, ActionError, ActionResult

_SHELLS = {"bash": ["bash", "-c"], "sh": ["sh", "-c"], "python": ["python", "-c"]}


def retry(inputs: dict[str, str], ctx: ActionContext) -> ActionResult:
    shell = (inputs.get("shell", "") or "bash").split()[0]
    if shell not in _SHELLS:
        raise ActionError(f"nick-fields/retry: shell {shell!r} is not available here")
    attempts = _number(inputs, "max_attempts", 3)
    timeout = _timeout(inputs)
    wait = max(0.0, _number(inputs, "retry_wait_seconds", 10))  # setTimeout's floor
    polling = _number(inputs, "polling_interval_seconds", 1) or 1
    retry_on = inputs.get("retry_on", "any").strip() or "any"
    exit_code = inputs.get("retry_on_exit_code", "").strip()
    log: list[str] = []
    code, error = 0, ""
    for attempt in range(1, int(attempts) + 1):
        command = inputs.get("command", "")
        if attempt > 1 and inputs.get("new_command_on_retry", "").strip():
            command = inputs["new_command_on_retry"]
        log.append(f"Attempt {attempt}")
        code, timed_out, lines = _attempt(_SHELLS[shell] + [command], ctx, timeout, polling)
        log += lines
        if code == 0 and not timed_out:
            log.append(f"Command completed after {attempt} attempt(s).")
            return ActionResult(
                ok=True,
                log=log,
                outputs={"total_attempts": str(attempt), "exit_code": "0", "exit_error": ""},
            )
        error = (
            f"Timeout of {_millis(timeout)}ms hit"
            if timed_out
            else f"Child_process exited with error code {code}"
        )
        time.sleep(wait)
        stop = (
            attempt == attempts
            or (timed_out and retry_on == "error")
            or (not timed_out and retry_on == "timeout")
            or (exit_code and exit_code != str(code))
        )
        if stop:
            if attempt == attempts:  # the action's own words: only the last attempt says so
                error = f"Final attempt failed. {error}"
            break
        log.append(f"Warning: Attempt {attempt} failed. Reason: {error}")
        if inputs.get("on_retry_command", "").strip():
            cleanup = ["sh", "-c", inputs["on_retry_command"]]
            subprocess.run(cleanup, cwd=ctx.sandbox.workspace, env=ctx.env, capture_output=True)
    outputs = {"total_attempts": str(attempt), "exit_code": str(code), "exit_error": error}
    log.append(f"Error: {error}")
    tolerated = inputs.get("continue_on_error", "false").strip().lower() == "true"
    return ActionResult(ok=tolerated, log=log, outputs=outputs)


def _attempt(
    command: list[str], ctx: ActionContext, timeout: float, polling: float
) -> tuple[int, bool, list[str]]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=ctx.sandbox.workspace,
            env=ctx.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        code, timed_out = done.returncode, False
        output = (done.stdout or "") + (done.stderr or "")
    except subprocess.TimeoutExpired as expired:
        code, timed_out = 1, True
        output = _text(expired.stdout) + _text(expired.stderr)
    elapsed = time.monotonic() - started
    time.sleep(max(0.0, math.ceil(elapsed / polling) * polling - elapsed))  # the action's polls
    return code, timed_out, output.strip().splitlines()[-30:]


def _millis(seconds: float) -> int | float:
    """The timeout as the action prints it (``ms.seconds``: a number of milliseconds)."""
    value = seconds * 1000
    return int(value) if value == int(value) else value


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _number(inputs: dict[str, str], name: str, default: float) -> float:
    text = inputs.get(name, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        raise ActionError(f"nick-fields/retry: {name} {text!r} is not a number") from None


def _timeout(inputs: dict[str, str]) -> float:
    minutes = inputs.get("timeout_minutes", "").strip()
    seconds = inputs.get("timeout_seconds", "").strip()
    if bool(minutes) == bool(seconds):
        raise ActionError("nick-fields/retry: give exactly one of timeout_minutes, timeout_seconds")
    if minutes:
        return _number(inputs, "timeout_minutes", 0) * 60
    return _number(inputs, "timeout_seconds", 0)

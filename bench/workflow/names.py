"""``github.workflow`` for a workflow file: shared by the job runner and the history replay,
which must not import the runner's parser."""

from __future__ import annotations

from pathlib import Path


def workflow_file_name(path: Path) -> str:
    """``github.workflow`` of a workflow without ``name:``: its file's path in the repository
    (``.github/workflows/ci.yml``); a file elsewhere is named as if it were there."""
    resolved = path.resolve()
    if resolved.parent.name == "workflows" and resolved.parent.parent.name == ".github":
        return resolved.relative_to(resolved.parents[2]).as_posix()
    return f".github/workflows/{path.name}"

"""Small git repositories with known histories, for the history replay's tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DAY = 86400
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def git_env(stamp: int | None = None) -> dict[str, str]:
    env = os.environ | {
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.invalid",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.invalid",
    }
    if stamp is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{stamp} +0000"
    return env


class Repo:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)

    def git(self, *args: str, stamp: int | None = None) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            check=True,
            env=git_env(stamp),
        )
        return result.stdout.strip()

    def commit(self, stamp: int, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files and commit them at ``stamp``.

        A text starting with ``-> `` makes a symbolic link to the rest."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if text.startswith("-> "):
                target.symlink_to(text[3:])
            else:
                target.write_text(text)
            self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, stamp=stamp)
        return self.git("rev-parse", "HEAD")

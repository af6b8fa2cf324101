"""The runner's file commands: GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STATE and the
job's one GITHUB_STEP_SUMMARY, made fresh for each run step and read back after it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

_NAMES = ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STATE")


def summary_path(temp: Path) -> Path:
    """One GITHUB_STEP_SUMMARY file for the whole job, beside the other file commands."""
    return temp / "_runner_file_commands" / "step_summary.md"


@dataclass(frozen=True)
class FileCommands:
    files: dict[str, Path]
    summary: Path
    token: str

    @classmethod
    def create(cls, temp: Path) -> FileCommands:
        summary = summary_path(temp)
        summary.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        files = {name: summary.parent / f"{name.lower()}_{token}" for name in _NAMES}
        for path in files.values():
            path.touch()
        return cls(files, summary, token)

    def script(self, suffix: str) -> Path:
        """Where the step's script is written (``.sh`` or ``.py``)."""
        return self.summary.parent / f"script_{self.token}{suffix}"

    def environment(self) -> dict[str, str]:
        return {name: str(path) for name, path in self.files.items()} | {
            "GITHUB_STEP_SUMMARY": str(self.summary)
        }

    def outputs(self) -> dict[str, str]:
        return read_key_values(self.files["GITHUB_OUTPUT"])

    def exported(self) -> dict[str, str]:
        return read_key_values(self.files["GITHUB_ENV"])

    def paths(self) -> list[str]:
        text = self.files["GITHUB_PATH"].read_text()
        return [line.strip() for line in text.splitlines() if line.strip()]


def read_key_values(path: Path) -> dict[str, str]:
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

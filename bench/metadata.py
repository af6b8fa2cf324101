"""What a run's numbers depend on: machine, OS, CPU, Python, tools, harness commit."""

from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import psutil

from bench.locking import pinned_versions
from bench.runner.pythons import installed_interpreters

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TOOLS_REQUIREMENTS = PROJECT_ROOT / "scenarios" / "tools" / "requirements.txt"


def machine_metadata() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "os": _os_release(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count_logical": psutil.cpu_count(logical=True),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_bytes": memory.total,
        "python_harness": platform.python_version(),
        "pythons": {i.version: i.path for i in installed_interpreters()},
        "tools": tool_versions(),
    }


def tool_versions() -> dict[str, str]:
    """The pinned versions scenarios install, and the system tools the cache uses."""
    pins = pinned_versions(TOOLS_REQUIREMENTS) if TOOLS_REQUIREMENTS.is_file() else {}
    versions = {name: pins[name] for name in ("poetry", "pipenv", "uv", "pipx") if name in pins}
    for tool, args in (("tar", ["--version"]), ("zstd", ["--version"]), ("bash", ["--version"])):
        versions[tool] = _first_line([tool, *args])
    return versions


def harness_commit() -> dict[str, Any]:
    head = _first_line(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--", "bench", "scenarios"],
        capture_output=True,
        text=True,
    )
    return {
        "commit": head,
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if result.returncode == 0 and lines else "unknown"


def _os_release() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.platform()
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)', text, re.MULTILINE)
    return match.group(1) if match else platform.platform()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

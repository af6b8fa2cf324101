"""Wheels rebuilt from distributions installed in the test environment.

The scenarios install poetry, pipenv, uv and pytest from the mirror; offline, the tests get them
by zipping what this environment already has installed back into wheels (the files RECORD lists,
with console scripts left for the installer to regenerate, and other ``bin`` files kept as the
wheel's scripts). So the scenario tests need no network and use the tools' pinned versions.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(names: list[str]) -> list[metadata.Distribution]:
    """``names`` and everything they need on this platform (extras followed), as installed here."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    pending: list[tuple[str, str]] = [(name, "") for name in names]
    while pending:
        name, extra = pending.pop()
        name = canonicalize_name(name)
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        dist = found.setdefault(name, metadata.distribution(name))
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                pending.append((requirement.name, ""))
                pending.extend((requirement.name, e) for e in requirement.extras)
    return list(found.values())


def repack(dist: metadata.Distribution, folder: Path) -> Path:
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    version = dist.version
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = re.findall(r"^Tag: (\S+)", wheel_meta, re.MULTILINE) or ["py3-none-any"]
    tag = next((t for t in tags if t.startswith(("py3", "cp3"))), tags[0])
    console_scripts = {ep.name for ep in dist.entry_points if ep.group == "console_scripts"}
    data_dir = f"{name}-{version}.data"
    members: dict[str, bytes] = {}
    for file in dist.files or []:
        text = str(file)
        if text.endswith(".pyc") or "__pycache__" in text or text.endswith(("RECORD", "INSTALLER")):
            continue
        if text.endswith("direct_url.json") or text.endswith("REQUESTED"):
            continue
        source = Path(str(dist.locate_file(file)))
        if not source.is_file():
            continue
        if text.startswith("../../../bin/"):
            script = text.removeprefix("../../../bin/")
            if script in console_scripts:
                continue
            arcname = f"{data_dir}/scripts/{script}"
        elif text.startswith("../../../"):
            arcname = f"{data_dir}/data/{text.removeprefix('../../../')}"
        elif text.startswith(".."):
            continue
        else:
            arcname = text
        members[arcname] = source.read_bytes()
    dist_info = next(
        (str(f).split("/")[0] for f in dist.files or [] if str(f).endswith(".dist-info/METADATA")),
        f"{name}-{version}.dist-info",
    )
    record = [_record_line(path, data) for path, data in members.items()]
    record.append(f"{dist_info}/RECORD,,")
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as wheel:
        for arcname, data in members.items():
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if "/scripts/" in arcname else 0o100644) << 16
            wheel.writestr(info, data)
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def repack_closure(names: list[str], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [repack(dist, folder) for dist in closure(names)]


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"

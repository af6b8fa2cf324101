"""Tiny packages the tests build themselves: wheels, and an sdist with an in-tree build backend.

Nothing here needs the network or a build tool: wheels are zip files written directly, and the
sdist builds with a backend of a few lines that ships inside it (PEP 517 ``backend-path``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

BACKEND = """
import base64, hashlib, os, zipfile

NAME, VERSION = "{name}", "{version}"
WHEEL = b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{path}},sha256={{digest}},{{len(data)}}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    dist_info = f"{{NAME}}-{{VERSION}}.dist-info"
    files = {{
        f"{{NAME}}/__init__.py": open(os.path.join("{name}", "__init__.py"), "rb").read(),
        f"{{dist_info}}/METADATA": open("PKG-INFO", "rb").read(),
        f"{{dist_info}}/WHEEL": WHEEL,
    }}
    record = [_record_line(p, d) for p, d in files.items()] + [f"{{dist_info}}/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{{dist_info}}/RECORD", "\\n".join(record) + "\\n")
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []
"""


def metadata(name: str, version: str, requires: list[str], requires_python: str | None) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n"


def module_source(name: str, version: str) -> str:
    return f'VERSION = "{version}"\n\n\ndef hello():\n    return "hello from {name}"\n'


def build_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: list[str] | None = None,
    requires_python: str | None = None,
) -> Path:
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": module_source(name, version).encode(),
        f"{dist_info}/METADATA": metadata(name, version, requires or [], requires_python).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tiny\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def build_sdist(folder: Path, name: str, version: str) -> Path:
    root = f"{name}-{version}"
    pyproject = (
        "[build-system]\nrequires = []\n"
        'build-backend = "tiny_backend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    files = {
        f"{root}/PKG-INFO": metadata(name, version, [], None),
        f"{root}/pyproject.toml": pyproject,
        f"{root}/tiny_backend.py": BACKEND.format(name=name, version=version),
        f"{root}/{name}/__init__.py": module_source(name, version),
    }
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as sdist:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 1_700_000_000
            sdist.addfile(info, io.BytesIO(data))
    return path


def build_set(folder: Path) -> dict[str, Path]:
    """The standard test set: a pure wheel, a wheel that needs it, and an sdist-only package."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "tinyone": build_wheel(folder, "tinyone", "1.0", requires_python=">=3.8"),
        "tinytwo": build_wheel(folder, "tinytwo", "2.0", requires=["tinyone>=1.0"]),
        "tinysrc": build_sdist(folder, "tinysrc", "0.5"),
    }


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"

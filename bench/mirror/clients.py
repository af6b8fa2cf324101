"""The environment that points every package tool at the mirror, and at nothing of the host's.

pip caches HTTP responses only over https or from a host it trusts, so the mirror's host is
trusted (``PIP_TRUSTED_HOST``); uv is told the same (``UV_INSECURE_HOST``). pipenv passes its
source to pip; poetry takes its source from the project file (see ``poetry_source``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

# Host variables that would let a tool see the user's own configuration or caches.
_DROPPED_PREFIXES = (
    "PIP_",
    "UV_",
    "POETRY_",
    "PIPENV_",
    "PIPX_",
    "PYENV_",
    "XDG_",
    "VIRTUAL_ENV",
    "CONDA_",
)
_DROPPED = {"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}


def scrubbed_environment(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The host's environment without anything that configures or caches a Python tool."""
    source = dict(os.environ if base is None else base)
    env = {
        k: v for k, v in source.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED
    }
    return env | home_settings(home)


def home_settings(home: Path) -> dict[str, str]:
    """``HOME`` and the XDG folders inside ``home``; pip and git read no machine configuration."""
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "GIT_CONFIG_NOSYSTEM": "1",  # git's global configuration is then only HOME's
    }


def mirror_environment(index_url: str) -> dict[str, str]:
    """Variables that send pip, uv and pipenv to the mirror and let them cache from it."""
    host = urlsplit(index_url).hostname or "127.0.0.1"
    return {
        "PIP_INDEX_URL": index_url,
        "PIP_TRUSTED_HOST": host,
        "UV_DEFAULT_INDEX": index_url,
        "UV_INDEX_URL": index_url,
        "UV_INSECURE_HOST": host,
        "UV_PYTHON_DOWNLOADS": "never",
        "PIPENV_PYPI_MIRROR": index_url,
        "PIPENV_NOSPIN": "1",
        "PIPENV_YES": "1",
    }


def poetry_source(index_url: str, name: str = "mirror") -> str:
    """The ``pyproject.toml`` table that makes the mirror poetry's only source."""
    return f'[[tool.poetry.source]]\nname = "{name}"\nurl = "{index_url}"\npriority = "primary"\n'


def uv_index(index_url: str, name: str = "mirror") -> str:
    """The ``pyproject.toml`` table that makes the mirror uv's default (and only) index."""
    return f'[[tool.uv.index]]\nname = "{name}"\nurl = "{index_url}"\ndefault = true\n'


def pipfile_source(index_url: str, name: str = "mirror") -> str:
    """The ``Pipfile`` table for the mirror (plain http, so ``verify_ssl = false``)."""
    return f'[[source]]\nname = "{name}"\nurl = "{index_url}"\nverify_ssl = false\n'

"""What a step's ``uses:`` names: an action, the reference as written, and the version it means.

``owner/repo@v4``, ``@v4.2.1``, ``@main`` and ``@<40-hex commit>`` (often followed by a
``# v6.0.2`` comment) all occur. The record keeps the reference as written; behaviour follows
the version named, or the one in the comment after a commit pin, else the newest (spec, 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_COMMENT_VERSION = re.compile(r"^\s*#\s*(?:tag\s*[:=]\s*|pin\s*@\s*)?(v?\d+(?:\.\d+)*)\b")


@dataclass(frozen=True)
class ActionRef:
    written: str  # the ``uses:`` value as written
    name: str  # owner/repo[/path], or ./path for a local action
    ref: str  # after the @ ("" for a local action)
    comment: str = ""  # the comment after the value on its line, if any

    @property
    def local(self) -> bool:
        return self.name == "." or self.name.startswith("./")  # ``./`` is the repository's own

    @property
    def docker(self) -> bool:
        return self.name.startswith("docker://")

    @property
    def commit(self) -> bool:
        return bool(_COMMIT.match(self.ref.lower()))

    @property
    def version(self) -> tuple[int, ...] | None:
        """The version this reference means; ``None`` for the newest (a branch, a bare pin)."""
        match = _VERSION.match(self.ref)
        if match:
            return tuple(int(part) for part in match.group(1).split("."))
        if self.commit:
            found = _COMMENT_VERSION.match(self.comment)
            if found:
                return tuple(int(p) for p in found.group(1).lstrip("v").split("."))
        return None

    @property
    def version_text(self) -> str:
        version = self.version
        return "v" + ".".join(map(str, version)) if version is not None else "newest"

    def at_least(self, *version: int) -> bool:
        """Whether the version meant is ``version`` or later (the newest always is)."""
        mine = self.version
        if mine is None:
            return True
        # ``v7`` means the newest v7.x: compare only the parts it names.
        return mine >= version[: len(mine)] if len(mine) < len(version) else mine >= version


def parse_ref(uses: str, comment: str = "") -> ActionRef:
    text = uses.strip()
    if text.startswith(("./", "docker://")):
        return ActionRef(text, text.rstrip("/"), "", comment.strip())
    name, _, ref = text.partition("@")
    return ActionRef(text, name.strip().rstrip("/"), ref.strip(), comment.strip())

"""The simple repository API's pages (PEP 503 HTML and PEP 691 JSON), from a wheelhouse scan."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from datetime import UTC, datetime

from bench.mirror.distfiles import DistFile

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
API_VERSION = "1.1"


def group_by_project(files: list[DistFile]) -> dict[str, list[DistFile]]:
    projects: dict[str, list[DistFile]] = defaultdict(list)
    for file in files:
        projects[file.project].append(file)
    return dict(sorted(projects.items()))


def choose_format(accept: str) -> str:
    """Content negotiation as the public index does it: JSON only when asked for and preferred."""
    best, best_q = HTML_TYPE, -1.0
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        quality = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if media in (JSON_TYPE, HTML_TYPE, "text/html") and quality > best_q:
            best, best_q = (JSON_TYPE if media == JSON_TYPE else HTML_TYPE), quality
    return best


def root_page(projects: list[str], media: str) -> bytes:
    if media == JSON_TYPE:
        body = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in projects]}
        return json.dumps(body).encode()
    links = "\n".join(f'    <a href="{p}/">{p}</a><br/>' for p in projects)
    return _html("Simple index", links)


def project_page(project: str, files: list[DistFile], file_base: str, media: str) -> bytes:
    """``file_base`` is the relative URL of the files folder, seen from the project page."""
    if media == JSON_TYPE:
        entries = []
        for f in files:
            entry: dict[str, object] = {
                "filename": f.filename,
                "url": f"{file_base}{f.filename}",
                "hashes": {"sha256": f.sha256},
                "requires-python": f.requires_python or None,
                "size": f.size,
                "upload-time": _iso(f.mtime),
                "yanked": False,
            }
            if f.metadata_sha256:
                entry["core-metadata"] = {"sha256": f.metadata_sha256}
                entry["data-dist-info-metadata"] = {"sha256": f.metadata_sha256}
            entries.append(entry)
        body = {
            "meta": {"api-version": API_VERSION},
            "name": project,
            "files": entries,
            "versions": sorted({f.version for f in files}),
        }
        return json.dumps(body).encode()
    links = []
    for f in files:
        attributes = [f'href="{file_base}{f.filename}#sha256={f.sha256}"']
        if f.requires_python:
            attributes.append(f'data-requires-python="{html.escape(f.requires_python)}"')
        if f.metadata_sha256:
            attributes.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attributes.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        links.append(f"    <a {' '.join(attributes)}>{html.escape(f.filename)}</a><br/>")
    return _html(f"Links for {project}", "\n".join(links))


def _html(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n"
    ).encode()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

"""Strict validation of the request target before anything is forwarded.

The proxy builds the upstream URL from the configured endpoint plus the validated tail, so a
request can never choose the upstream host; these checks also refuse every spelling of a path
that would leave MLflow's tree once some component decodes or normalises it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

PREFIX = "/api/mlflow/"

_FORBIDDEN_CHARACTERS = frozenset("\\\x00\r\n")
_DOT_SEGMENTS = frozenset({".", ".."})
# Segments of plain characters, none empty (but a last one) or starting with a dot, no escape:
# a path that none of the checks below could refuse, found with one match.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?")


class PathRejected(ValueError):
    """The request target is not a plain origin-form path under the proxy prefix."""


def upstream_target(raw_target: str) -> str:
    """Return the upstream request target (`/tail?query`) for a raw proxied request target."""
    if not raw_target.startswith(PREFIX):
        raise PathRejected("request target must be an origin-form path under /api/mlflow/")
    target = raw_target[len(PREFIX) - 1 :]
    path, sep, query = target.partition("?")
    if "#" in raw_target:
        raise PathRejected("request target must not carry a fragment")
    if _PLAIN_PATH.fullmatch(path):
        return target
    # Decode twice: a double-encoded dot or slash (%252e) becomes dangerous after one more hop.
    # Strictly: escaped bytes that are not UTF-8 (the overlong `%c0%ae` is a dot to a lenient
    # decoder, U+FFFD to this one) are refused, so no decoder downstream reads another path.
    # A path without escapes is its own decoding and is checked once.
    if "%" in path:
        try:
            decoded = unquote(path, errors="strict")
            candidates: tuple[str, ...] = (path, decoded, unquote(decoded, errors="strict"))
        except UnicodeDecodeError:
            raise PathRejected("path contains escaped bytes that are not UTF-8") from None
    else:
        candidates = (path,)
    for candidate in candidates:
        if not _FORBIDDEN_CHARACTERS.isdisjoint(candidate):
            raise PathRejected("path contains a forbidden character")
        segments = candidate.split("/")[1:]
        if any(segment in _DOT_SEGMENTS for segment in segments):
            raise PathRejected("path contains a '.' or '..' segment")
        if "" in segments[:-1]:
            raise PathRejected("path contains an empty segment ('//')")
    if "%2f" in path.lower():
        raise PathRejected("path contains an encoded '/'")
    return path + sep + query

"""Header fields as they arrive on the wire: (name, value) pairs of bytes, beside their names
in lower case (made once per message by whoever parsed it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter

Fields = list[tuple[bytes, bytes]]

# Fields a message carries once at most, whatever their values: RFC 9112 section 3.2 refuses a
# second Host; a second Content-Length or Transfer-Encoding makes the body's framing ambiguous.
SINGLE_FIELDS = (b"host", b"content-length", b"transfer-encoding")

_name = itemgetter(0)


def lowered_names(fields: Fields) -> list[bytes]:
    """The fields' names in lower case, in order (lowered in C: every message pays it)."""
    return list(map(bytes.lower, map(_name, fields)))


def first_value(
    fields: Sequence[tuple[bytes, bytes]], names: Sequence[bytes], name: bytes
) -> bytes | None:
    """The first value of the field `name` (in lower case), as it arrived."""
    return fields[names.index(name)][1] if name in names else None


def repeated(names: Sequence[bytes], single: Sequence[bytes]) -> bytes | None:
    """The first of `single` that `names` (lower-cased field names) holds twice, if any."""
    if len(set(names)) == len(names):  # no field is repeated: the common case, checked in C
        return None
    return next((name for name in single if names.count(name) > 1), None)


def header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    """Header lines, each ending CRLF."""
    text = "".join([f"{name}: {value}\r\n" for name, value in headers])
    return text.encode("utf-8", "surrogateescape")

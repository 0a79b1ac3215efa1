"""`hokusai endpoint pin`: the direct-IP workaround as one recorded variable, not five edited files.

The pin is the `mlflow_pin` block at the end of an environment's terraform.tfvars: the URL the
API falls back to while discovery is broken, why, and since when. Unpinning removes exactly the
block that pinning appended, so a round trip leaves the file byte-identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from hokusai_platform.infra.hcl import HclError, literal, load

PIN_VARIABLE = "mlflow_pin"
MAX_REASON_LENGTH = 200

# The block with its leading blank line and comments; quoted strings may hold braces.
_BLOCK = re.compile(rf'\n(?:#[^\n]*\n)*{PIN_VARIABLE}\s*=\s*\{{(?:[^}}"]|"(?:[^"\\]|\\.)*")*\}}\n')


class PinError(Exception):
    """The pin cannot be made or removed; the message says why in one line."""


@dataclass(frozen=True)
class Pin:
    url: str
    reason: str
    since: date


def _hcl_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    # `${` and `%{` start templates in HCL strings; doubling the sigil makes them literal.
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PinError(f"{url!r} is not an http(s) URL with a host, e.g. http://10.0.1.88:5000")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise PinError(f"{url!r} must be scheme://host:port only (no path, query or credentials)")
    try:
        port = parts.port
    except ValueError:
        raise PinError(f"{url!r} has an invalid port") from None
    if port is None:
        raise PinError(f"{url!r} needs an explicit port, e.g. :5000")
    return f"{parts.scheme}://{parts.netloc}"


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or "\n" in reason or len(reason) > MAX_REASON_LENGTH:
        raise PinError(f"--reason must be one non-empty line of at most {MAX_REASON_LENGTH} chars")
    return reason


def read(variables_file: Path) -> Pin | None:
    """The pin recorded in a variables file, None when there is none."""
    if not variables_file.is_file():
        raise PinError(f"no variables file {variables_file}")
    try:
        [parsed] = load(variables_file).variables_files
    except HclError as exc:
        raise PinError(str(exc)) from None
    record = parsed.values.get(PIN_VARIABLE)
    if record is None:
        return None
    fields = (
        {key: literal(record.get(key)) for key in ("url", "reason", "since")}
        if isinstance(record, dict)
        else {}
    )
    if None in fields.values() or not fields:
        raise PinError(f"{variables_file}: {PIN_VARIABLE} must be {{url, reason, since}} strings")
    try:
        since = date.fromisoformat(str(fields["since"]))
    except ValueError:
        raise PinError(f"{variables_file}: {PIN_VARIABLE}.since is not a YYYY-MM-DD date") from None
    return Pin(str(fields["url"]), str(fields["reason"]), since)


def pinned_text(text: str, pin: Pin, environment: str) -> str:
    """`text` with the pin block appended (the file must not hold a pin yet)."""
    block = (
        f"\n# Pinned by `hokusai endpoint pin`: remove with "
        f"`hokusai endpoint unpin mlflow --env {environment}`.\n"
        f"{PIN_VARIABLE} = {{\n"
        f"  url    = {_hcl_string(pin.url)}\n"
        f"  reason = {_hcl_string(pin.reason)}\n"
        f"  since  = {_hcl_string(pin.since.isoformat())}\n"
        "}\n"
    )
    return text + ("" if text.endswith("\n") or not text else "\n") + block


def unpinned_text(text: str, variables_file: Path) -> str:
    matches = list(_BLOCK.finditer(text))
    if len(matches) != 1:
        raise PinError(
            f"{variables_file}: expected one `{PIN_VARIABLE} = {{...}}` block, found {len(matches)}"
        )
    return text[: matches[0].start()] + text[matches[0].end() :]


def pin(variables_file: Path, url: str, reason: str, today: date) -> Pin:
    existing = read(variables_file)
    if existing is not None:
        raise PinError(
            f"mlflow is already pinned to {existing.url} since {existing.since} "
            f"({existing.reason}); unpin it first"
        )
    new = Pin(_check_url(url), _check_reason(reason), today)
    environment = variables_file.parent.name
    variables_file.write_text(pinned_text(variables_file.read_text(), new, environment))
    return new


def unpin(variables_file: Path) -> Pin:
    existing = read(variables_file)
    if existing is None:
        raise PinError(f"mlflow is not pinned in {variables_file}")
    variables_file.write_text(unpinned_text(variables_file.read_text(), variables_file))
    return existing

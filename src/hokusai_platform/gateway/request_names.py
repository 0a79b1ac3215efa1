"""The ids a request names, read exactly where MLflow's handler reads them.

`_get_request_message` reads a GET's query string and any other method's JSON body; protobuf
accepts a field under its proto name (`run_id`) or its JSON name (`runId`); a handler that
takes `run_id or run_uuid` reads the second when the first is empty. The gateway reads the
same way, and refuses (400) every request whose id another place or spelling contradicts:
a GET with a body, a query string that disagrees with the body, a repeated query parameter,
two spellings of one field, `run_id` against `run_uuid`, an experiment named by id and by name.
Authorising one value while MLflow acts on another is how mlflow-oidc-auth shipped a
cross-tenant rename.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

from hokusai_platform.gateway.rules import Kind, Names, Source
from hokusai_platform.http.messages import Request
from hokusai_platform.http.protocol import Body
from hokusai_platform.keys.grants import Level

# Another way to name the same experiment: present beside the rule's own field, it is refused.
_OTHER_SPELLINGS = {Kind.EXPERIMENT: "experiment_name", Kind.EXPERIMENT_NAME: "experiment_id"}


class Contradiction(ValueError):
    """The request names its resource ambiguously or not at all (400)."""


class BodyTooLarge(ValueError):
    """A body sent without Content-Length grew past the JSON limit (413)."""


@dataclass(frozen=True, slots=True)
class Named:
    kind: Kind
    level: Level
    ids: tuple[str, ...]


class ReplayedBody(Body):
    """A body the gateway read whole to check it, handed on to the proxy unchanged."""

    def __init__(self, request: Request, data: bytes) -> None:
        super().__init__(request.connection)
        self.data = data

    def is_eof(self) -> bool:
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body (kept for the proxy to send on), within `limit` bytes."""
    if request.body is None:
        return b""
    if isinstance(request.body, ReplayedBody):
        return request.body.data
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.body.chunks():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    request.body = ReplayedBody(request, data)
    return data


def message_json(body: bytes) -> dict[str, object]:
    """The body as MLflow's `_get_normalized_request_json` sees it (stdlib json, as Flask's)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
        if isinstance(value, str):  # double-encoded by old clients; MLflow decodes it again
            value = json.loads(value)
    except ValueError:
        raise Contradiction("the request body is not JSON") from None
    if not isinstance(value, dict):
        raise Contradiction("the request body is not a JSON object")
    return value


def json_name(field: str) -> str:
    """protobuf's JSON name of a field: `run_uuid` → `runUuid`."""
    head, *rest = field.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Query:
    def __init__(self, query_string: str) -> None:
        self.pairs = parse_qsl(query_string, keep_blank_values=True)

    def values(self, field: str) -> list[str]:
        return [value for name, value in self.pairs if name == field]

    def one(self, field: str) -> str | None:
        values = self.values(field)
        if len(set(values)) > 1:
            raise Contradiction(f"the query string gives {field} {len(values)} different values")
        return values[0] if values else None


def _from_body(body: object, field: str) -> object:
    """The value at `field`, a dotted path into nested messages (`trace.trace_info.…`); past a
    repeated one (`locations[].…`), the list of each item's value."""
    value: object = body
    parts = field.split(".")
    for index, part in enumerate(parts):
        if not isinstance(value, dict):
            return None
        name = part.removesuffix("[]")
        spellings = [each for each in dict.fromkeys((name, json_name(name))) if each in value]
        if len(spellings) > 1:
            raise Contradiction(f"the body spells {name} twice ({' and '.join(spellings)})")
        value = value[spellings[0]] if spellings else None
        if part.endswith("[]") and isinstance(value, list):
            rest = ".".join(parts[index + 1 :])
            return [_from_body(item, rest) for item in value]
    return value


def _as_ids(field: str, value: object, many: bool) -> list[str]:
    if value is None:
        return []
    values = value if many and isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in values):
        raise Contradiction(f"{field} must be {'a list of strings' if many else 'a string'}")
    return [item for item in values if isinstance(item, str) and item]


class RequestNames:
    """What one request names, read once; `body` is None when MLflow reads none."""

    def __init__(
        self, query_string: str, params: dict[str, str], message: dict[str, object] | None
    ) -> None:
        self._params = params
        self._query = _Query(query_string)
        self._body = message

    @classmethod
    def of_request(
        cls, request: Request, params: dict[str, str], body: bytes | None
    ) -> RequestNames:
        return cls(request.query_string, params, None if body is None else message_json(body))

    @classmethod
    def of_message(cls, message: dict[str, object]) -> RequestNames:
        """A message MLflow builds itself (a GraphQL field's `input`), read as a JSON body."""
        return cls("", {}, message)

    def read(self, names: Names) -> Named:
        ids = self._ids(names)
        if names.segment:
            ids = [value.lstrip("/").split("/", 1)[0] for value in ids]
        if not ids and names.optional:
            return Named(names.kind, names.level, ())
        if not ids:
            spelled = " or ".join(names.fields)
            raise Contradiction(f"the request names no {names.kind.value} ({spelled})")
        if not names.many and len(set(ids)) > 1:
            raise Contradiction(
                f"{' and '.join(names.fields)} name different {names.kind.value}s: "
                + ", ".join(ids)
            )
        other = _OTHER_SPELLINGS.get(names.kind)
        if other is not None and self._present(other):
            raise Contradiction(f"the request names the experiment twice ({other} as well)")
        return Named(names.kind, names.level, tuple(dict.fromkeys(ids)))

    def _ids(self, names: Names) -> list[str]:
        ids: list[str] = []
        for field in names.fields:
            if names.source is Source.PATH:
                found = [self._params[field]]
                query = self._query.values(field)
                if query and query != found:
                    raise Contradiction(f"the path and the query string name different {field}s")
            elif names.source is Source.QUERY or self._body is None:
                found = (
                    [value for value in self._query.values(field) if value]
                    if names.many
                    else _as_ids(field, self._query.one(field), False)
                )
            else:
                found = _as_ids(field, _from_body(self._body, field), names.many)
                query = [value for value in self._query.values(field) if value]
                if query and query != found:
                    raise Contradiction(f"the query string and the body name different {field}s")
            ids.extend(found)
            if found and names.many:
                break
        return ids

    def _present(self, field: str) -> bool:
        if self._body is not None and _from_body(self._body, field) is not None:
            return True
        return bool(self._query.values(field))

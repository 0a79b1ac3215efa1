"""Searches for a key its grants restrict: only what it may read, pages still full.

The gateway runs the search against MLflow itself, page after page, keeps what the key may
read, and stops once it has `max_results` of them. Its `next_page_token` says where it stopped:
MLflow's token for the page it was reading, how far into that page, and the page size, so the
next call resumes exactly there, neither skipping nor repeating. Such a token is the gateway's
(`hk1.`…); it is no secret, since whatever it points at is filtered again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from hokusai_platform.gateway.lookups import LookupFailed
from hokusai_platform.gateway.request_names import Contradiction, json_name, message_json
from hokusai_platform.gateway.rules import Action

TOKEN_PREFIX = "hk1."
MIN_PAGE = 100  # asked of MLflow at least, so a small max_results costs few round trips
MAX_PAGES = 20  # per call: past that, a short page and a token to carry on
# MLflow's own max_results when none is given.
DEFAULT_MAX_RESULTS = {
    Action.SEARCH_EXPERIMENTS: 1000,
    Action.SEARCH_MODELS: 100,
    Action.SEARCH_VERSIONS: 10_000,
    Action.SEARCH_RUNS: 1000,
    Action.SEARCH_LOGGED_MODELS: 100,
}

Call = Callable[[str, str, bytes | None], Awaitable[tuple[int, bytes]]]
Readable = Callable[[dict[str, object]], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Position:
    upstream_token: str | None
    skip: int
    page_size: int

    def encode(self) -> str:
        text = json.dumps([self.upstream_token, self.skip, self.page_size])
        return TOKEN_PREFIX + base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> Position:
        try:
            if not token.startswith(TOKEN_PREFIX):
                raise ValueError(token)
            upstream, skip, size = json.loads(base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :]))
            if not (upstream is None or isinstance(upstream, str)):
                raise ValueError(token)
            if not (isinstance(skip, int) and isinstance(size, int) and skip >= 0 and size > 0):
                raise ValueError(token)
        except (ValueError, TypeError):
            raise Contradiction("page_token is not one this gateway gave") from None
        return cls(upstream, skip, size)


class Search:
    """One search request's parameters, as MLflow would read them (query on GET, else body)."""

    def __init__(self, method: str, target_path: str, query_string: str, body: bytes) -> None:
        self.method = method
        self.path = target_path
        if method == "GET":
            self._query = parse_qsl(query_string, keep_blank_values=True)
            self._body: dict[str, object] = {}
        else:
            self._query = []
            self._body = message_json(body)

    def param(self, name: str) -> object:
        if self.method == "GET":
            values = [value for key, value in self._query if key == name]
            return values[0] if values else None
        return self._body.get(name, self._body.get(json_name(name)))

    def request(self, position: Position) -> tuple[str, bytes | None]:
        """The target and body asking MLflow for the page at `position`."""
        replaced = {"page_token": position.upstream_token, "max_results": position.page_size}
        if self.method == "GET":
            query = [(k, v) for k, v in self._query if k not in replaced]
            query += [(k, str(v)) for k, v in replaced.items() if v is not None]
            return f"{self.path}?{urlencode(query)}", None
        spellings = {*replaced, *map(json_name, replaced)}
        body = {k: v for k, v in self._body.items() if k not in spellings}
        body.update({k: v for k, v in replaced.items() if v is not None})
        return self.path, json.dumps(body).encode()


def _max_results(search: Search, action: Action) -> int:
    value = search.param("max_results")
    if value is None or value == "":
        return DEFAULT_MAX_RESULTS[action]
    try:
        limit = int(str(value))
    except ValueError:
        raise Contradiction("max_results must be a number") from None
    if limit < 1:
        raise Contradiction("max_results must be at least 1")
    return limit


async def filtered_search(
    search: Search, action: Action, readable: Readable, call: Call
) -> tuple[int, bytes]:
    """The answer to `search`, holding only what `readable` lets through."""
    limit = _max_results(search, action)
    token = search.param("page_token")
    position = (
        Position.decode(token)
        if isinstance(token, str) and token
        else Position(None, 0, max(limit, MIN_PAGE))
    )
    items: list[object] = []
    for _ in range(MAX_PAGES):
        target, body = search.request(position)
        status, answer = await call(search.method, target, body)
        if status != 200:
            return status, answer
        try:
            page = json.loads(answer)
        except ValueError:
            page = None
        if not isinstance(page, dict):
            raise LookupFailed(f"MLflow's answer to {search.method} {search.path} is not JSON")
        page_items = page.get(action.value) or []
        following = page.get("next_page_token") or None
        for index in range(position.skip, len(page_items)):
            item = page_items[index]
            if isinstance(item, dict) and await readable(item):
                items.append(item)
                if len(items) == limit:
                    rest = index + 1 < len(page_items)
                    resume = (
                        Position(position.upstream_token, index + 1, position.page_size)
                        if rest
                        else Position(following, 0, position.page_size)
                        if following
                        else None
                    )
                    return 200, _answer(action, items, resume)
        if following is None:
            return 200, _answer(action, items, None)
        position = Position(following, 0, position.page_size)
    return 200, _answer(action, items, position)


def _answer(action: Action, items: list[object], resume: Position | None) -> bytes:
    answer: dict[str, object] = {action.value: items}
    if resume is not None:
        answer["next_page_token"] = resume.encode()
    return json.dumps(answer).encode()

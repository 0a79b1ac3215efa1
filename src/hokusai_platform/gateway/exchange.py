"""One request's passage through the gateway, carried from stage to stage on one object.

The HTTP server hands the gateway a `Request`; the gateway wraps it in an `Exchange`, and
each stage reads what the ones before it learnt and adds what it learns: the request id,
who is calling (the Guard), which endpoint answered (the proxy), the fields every answer
carries (its id, the caller's rate limit). The access and audit logs read them there.
Nothing is written back into the protocol's request, and nothing is threaded through
signatures by hand.

It lives in the gateway, not in http/: each of its values is the gateway's policy (its rule
for accepting a caller's request id, a key from keys/, an endpoint from discovery/), which
a protocol-level object could only hold untyped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hokusai_platform.discovery.endpoint import Endpoint
from hokusai_platform.http.messages import AnyResponse, Request
from hokusai_platform.keys.store import KeyInfo


class Exchange:
    __slots__ = ("endpoint", "id", "key", "request", "response_headers", "started")

    def __init__(self, request: Request, request_id: str, started: float) -> None:
        self.request = request
        self.id = request_id
        self.started = started  # time.perf_counter() on arrival: every latency counts from it
        self.key: KeyInfo | None = None  # the caller's key, once authenticated
        self.endpoint: Endpoint | None = None  # the MLflow endpoint tried last
        # Set on whatever answers the request, whole or streamed: its id, its rate limit.
        self.response_headers = [("X-Request-ID", request_id)]


Forward = Callable[[Exchange], Awaitable[AnyResponse]]
"""What sends an exchange's request on to MLflow once it has passed the gateway's checks."""

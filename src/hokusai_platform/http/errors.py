"""What goes wrong in HTTP, as types: the server's refusals of a request (each with the
status of its answer), the client's failures, and a caller gone away. What a refusal looks
like on the wire is for the server's user to say (`Server(refusal=...)`)."""

from __future__ import annotations


class ClientDisconnected(ConnectionError):
    """The caller went away while its request was being answered."""


class HttpError(Exception):
    """A request the server refuses itself; `status` is the answer's."""

    status = 400


class BadRequest(HttpError):
    status = 400


class RequestTimeout(HttpError):
    status = 408


class BodyTooLarge(HttpError):
    status = 413


class UriTooLong(HttpError):
    status = 414


class HeadersTooLarge(HttpError):
    status = 431


class ClientError(Exception):
    """Sending a request or reading its answer failed."""


class ConnectError(ClientError):
    """The origin refused or could not be reached."""


class NameResolutionError(ConnectError):
    """The origin's host name does not resolve."""


class ClientTimeout(ClientError):
    """Connecting took too long, or the origin went silent."""


class RemoteProtocolError(ClientError):
    """The origin closed the connection early or answered something that is not HTTP."""

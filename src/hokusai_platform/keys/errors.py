"""What the keys database refuses to do, each with a message meant for a person."""

from __future__ import annotations


class StoreError(Exception):
    """A request the store refuses (an unknown name, a duplicate); the message says why."""


class UnknownKey(StoreError, LookupError):
    pass


class KeyRevoked(StoreError):
    """The key exists, but is revoked: it can no longer be changed, only listed."""


class UnknownTeam(StoreError, LookupError):
    pass

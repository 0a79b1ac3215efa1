"""An endpoint: one concrete address an upstream's traffic can go to."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from hokusai_platform.http.client import Origin, authority

# Where an endpoint came from, as /health reports it.
Source = Literal["dns", "cloudmap", "stale", "fallback", "static"]

Address = Origin
"""(scheme, host, port): an endpoint's identity, and what the HTTP client pools by."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server: equal to another endpoint when their addresses are, whatever their sources.

    `source` is a label, not part of the identity, so a server keeps its health, its ejection
    and its pooled connections when it moves from a fresh answer to a stale one.
    """

    scheme: str
    host: str  # an IP address, never a name: the name was resolved to get here
    port: int
    source: Source = field(compare=False)
    # Derived once: every proxied request reads them.
    authority: str = field(init=False, compare=False, repr=False)
    """`ip:port`, or `[v6]:port`; also the Host header MLflow is sent."""
    address: Address = field(init=False, compare=False, repr=False)
    """The identity as a tuple (an Origin), which dicts on the request path key by: a tuple
    hashes in C, an endpoint in Python."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "authority", authority(self.host, self.port))
        object.__setattr__(self, "address", Origin(self.scheme, self.host, self.port))

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.authority}"

    def relabelled(self, source: Source) -> Endpoint:
        return Endpoint(self.scheme, self.host, self.port, source)


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True

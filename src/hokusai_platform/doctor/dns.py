"""DNS layer: the recommendations' `nslookup mlflow.<namespace>`, plus what makes it trustworthy.

From outside the VPC the system resolver cannot see the private zone. The namespace's SOA
tells the two cases apart: a resolver that serves the zone answers it even when a name in it
is gone (the outage), one that does not serve it has nothing to say, and the layer is skipped.
"""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.resolver

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor import cloudmap
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.skip import Skip

# After a registration returns, clients keep the cached NXDOMAIN this long: the outage
# outlives its fix by up to this many seconds.
MAX_NEGATIVE_TTL = 60
QUERY_TIMEOUT = 2.0
RESOLV_CONF = "/etc/resolv.conf"


def _resolver(context: Context) -> dns.asyncresolver.Resolver:
    if not context.dns_servers:
        resolver = dns.asyncresolver.Resolver(filename=RESOLV_CONF)
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(server.host, server.port)
            for server in context.dns_servers
        ]
    resolver.lifetime = QUERY_TIMEOUT
    resolver.cache = None
    return resolver


def _servers(context: Context) -> str:
    if context.dns_servers:
        return ", ".join(str(server) for server in context.dns_servers)
    return "the system resolver"


Zone = tuple[dns.rdtypes.ANY.SOA.SOA, int]


async def _zone(context: Context, check_id: str) -> Zone | CheckResult:
    """The namespace's SOA and its TTL, or why there is none.

    Through the system resolver no answer means we are outside the VPC (`Skip`); a server
    named on purpose must answer for the zone, so there it is a failure.
    """
    namespace = context.expectations.namespace
    try:
        answer = await _resolver(context).resolve(namespace, "SOA")
    except dns.exception.DNSException as exc:
        if not context.dns_servers:
            raise Skip(
                f"the system resolver does not serve {namespace} ({exc.__class__.__name__}): "
                "VPC DNS is not reachable from here; run inside the VPC or pass --dns-server"
            ) from None
        return CheckResult.fail(
            check_id,
            namespace,
            f"{_servers(context)} does not answer for the namespace: {exc}",
            hint="the namespace's private zone is missing or this is not its DNS server",
        )
    assert answer.rrset is not None
    soa = answer.rrset[0]
    assert isinstance(soa, dns.rdtypes.ANY.SOA.SOA)
    return soa, answer.rrset.ttl


async def _addresses(context: Context, name: str) -> list[str]:
    answer = await _resolver(context).resolve(name, "A")
    return sorted(record.to_text() for record in answer)


async def resolves(context: Context) -> list[CheckResult]:
    """Every discovery name has at least one A record."""
    zone = await _zone(context, "dns.resolve")
    if isinstance(zone, CheckResult):
        return [zone]
    results = []
    for service in context.expectations.services:
        name = context.expectations.discovery_name(service)
        try:
            addresses = await _addresses(context, name)
        except dns.resolver.NXDOMAIN:
            results.append(
                CheckResult.fail(
                    "dns.resolve",
                    name,
                    f"NXDOMAIN from {_servers(context)}: no instance is registered",
                    hint=f"nothing is registered as '{service.name}': the aws layer says "
                    f"whether {service.ecs_service} lost its serviceRegistries or its tasks",
                )
            )
        except (dns.resolver.NoAnswer, dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            results.append(
                CheckResult.fail(
                    "dns.resolve",
                    name,
                    f"{_servers(context)}: {exc}",
                    hint="the namespace's DNS is not answering for this name",
                )
            )
        else:
            results.append(CheckResult.ok("dns.resolve", name, ", ".join(addresses)))
    return results


async def matches_cloud_map(context: Context) -> list[CheckResult]:
    """DNS answers are what Cloud Map would give: its healthy instances (all, if none is)."""
    zone = await _zone(context, "dns.matches-cloudmap")
    if isinstance(zone, CheckResult):
        return [zone]
    results = []
    for service in context.expectations.services:
        name = context.expectations.discovery_name(service)
        instances = await cloudmap.discover(context, service)
        expected = cloudmap.answer_set(instances)
        try:
            answered = set(await _addresses(context, name))
        except dns.exception.DNSException:
            answered = set()
        if answered == expected or (len(expected) > cloudmap.MAX_ANSWERS and answered <= expected):
            results.append(
                CheckResult.ok(
                    "dns.matches-cloudmap", name, f"{len(answered)} address(es), as in Cloud Map"
                )
            )
            continue
        results.append(
            CheckResult.fail(
                "dns.matches-cloudmap",
                name,
                f"DNS answers {sorted(answered) or 'nothing'}, "
                f"Cloud Map has {sorted(expected) or 'no instances'}",
                hint="DNS serves a stale or foreign record set: check that the namespace is "
                "the one Terraform created and that clients do not use a different resolver",
            )
        )
    return results


async def negative_ttl(context: Context) -> list[CheckResult]:
    """How long resolvers cache NXDOMAIN (RFC 2308: the lesser of the SOA's TTL and minimum)."""
    zone = await _zone(context, "dns.negative-ttl")
    if isinstance(zone, CheckResult):
        return [zone]
    soa, ttl = zone
    negative = min(ttl, soa.minimum)
    namespace = context.expectations.namespace
    evidence = f"negative answers cached {negative} s (SOA TTL {ttl}, minimum {soa.minimum})"
    if negative <= MAX_NEGATIVE_TTL:
        return [CheckResult.ok("dns.negative-ttl", namespace, evidence)]
    return [
        CheckResult.warn(
            "dns.negative-ttl",
            namespace,
            evidence,
            hint=f"lower the namespace's SOA TTL to {MAX_NEGATIVE_TTL} s or less, or a name "
            "that comes back stays missing for clients this long",
        )
    ]

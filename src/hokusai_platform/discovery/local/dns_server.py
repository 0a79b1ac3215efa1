"""A DNS server on loopback that answers for one namespace the way Cloud Map's DNS does.

Queries for `<service>.<namespace>` get the registry's answer (`registry.Service.answer`) as A
records, or as SRV records (`1 1 <port> <instance-id>.<service>.<namespace>`, with the target's
A record in the additional section); `<instance-id>.<service>.<namespace>` answers that one
instance's A record. A name without instances is NXDOMAIN, and the SOA in the authority section
has a short minimum so resolvers retry within seconds. Names outside the namespace are REFUSED.

`DiscoveryServer` runs the DNS server (UDP and TCP) and the control API together::

    server = DiscoveryServer(Registry("hokusai-development.local"), dns_port=0, control_port=0)
    await server.start()      # server.dns_port / server.control_port hold the bound ports
    await server.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import Counter
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiohttp import web

from hokusai_platform.discovery.local.control import control_app
from hokusai_platform.discovery.local.registry import Instance, Registry

log = logging.getLogger("hokusai.discovery.server")

LOOPBACK = "127.0.0.1"
NEGATIVE_TTL = 5  # the SOA minimum: how long resolvers may cache "does not exist"
UDP_LIMIT = 512  # without EDNS
_PORT_ATTEMPTS = 5
TCP_IDLE_SECONDS = 10


class DiscoveryServer:
    def __init__(
        self,
        registry: Registry,
        *,
        dns_port: int = 0,
        control_port: int | None = 0,
        host: str = LOOPBACK,
    ) -> None:
        self.registry = registry
        self.host = host
        self.dns_port = dns_port
        self.control_port = control_port
        self.queries: Counter[tuple[str, str]] = Counter()  # (name, type) → count
        self._zone = dns.name.from_text(registry.namespace)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._control: web.AppRunner | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        requested = self.dns_port
        # UDP and TCP share the port number: bind UDP first (port 0 picks one), then TCP on it.
        # A picked number can already be taken for TCP (another connection's local port), so
        # a picked port is tried again; a port the operator asked for is not.
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, requested)
            )
            self.dns_port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.dns_port)
                break
            except OSError:
                self._udp.close()
                if requested != 0 or attempt == _PORT_ATTEMPTS:
                    raise
        if self.control_port is not None:
            self._control = web.AppRunner(control_app(self.registry, self.queries), access_log=None)
            await self._control.setup()
            await web.TCPSite(self._control, self.host, self.control_port).start()
            self.control_port = self._control.addresses[0][1]

    async def close(self) -> None:
        if self._control is not None:
            await self._control.cleanup()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def answer(self, wire: bytes, max_size: int | None = None) -> bytes | None:
        """The response to one query message; None when it is not worth answering."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _format_error(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if len(query.question) == 1 else dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        self.queries[(question.name.to_text(), dns.rdatatype.to_text(question.rdtype))] += 1
        self._fill(response, question.name, question.rdtype)
        if max_size is None:
            max_size = max(query.payload, UDP_LIMIT) if query.edns >= 0 else UDP_LIMIT
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    def _fill(self, response: dns.message.Message, name: dns.name.Name, rdtype: int) -> None:
        if not name.is_subdomain(self._zone):
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return
        labels = name.relativize(self._zone).labels
        if not labels:  # the namespace's apex
            if rdtype == dns.rdatatype.SOA:
                response.answer.append(self._soa())
            else:
                response.authority.append(self._soa())
            return
        service = self.registry.lookup(labels[-1].decode()) if len(labels) <= 2 else None
        instances = service.answer() if service else []
        if service is not None and len(labels) == 2:
            wanted = service.instances.get(labels[0].decode())
            instances = [wanted] if wanted is not None else []
        if service is None or not instances:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa())
            return
        if rdtype == dns.rdatatype.A:
            response.answer.append(_a_records(name, instances, service.ttl))
        elif rdtype == dns.rdatatype.SRV and len(labels) == 1:
            records = [f"1 1 {i.port} {i.instance_id}.{name}" for i in instances]
            response.answer.append(
                dns.rrset.from_text_list(name, service.ttl, "IN", "SRV", records)
            )
            for instance in instances:
                target = dns.name.from_text(instance.instance_id, origin=name)
                response.additional.append(_a_records(target, [instance], service.ttl))
        else:
            response.authority.append(self._soa())  # the name exists, not with this type

    def _soa(self) -> dns.rrset.RRset:
        zone = self._zone.to_text()
        record = f"ns.{zone} hostmaster.{zone} 1 7200 900 1209600 {NEGATIVE_TTL}"
        return dns.rrset.from_text(self._zone, NEGATIVE_TTL, "IN", "SOA", record)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            while True:
                async with asyncio.timeout(TCP_IDLE_SECONDS):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    wire = await reader.readexactly(length)
                response = self.answer(wire, max_size=65535)
                if response is None:
                    break
                writer.write(struct.pack("!H", len(response)) + response)
                await writer.drain()
        writer.close()


def _a_records(name: dns.name.Name, instances: list[Instance], ttl: int) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, ttl, "IN", "A", [i.address for i in instances])


def _format_error(wire: bytes) -> bytes | None:
    """FORMERR echoing the query id, or nothing when not even a header arrived."""
    if len(wire) < 12:
        return None
    (query_id,) = struct.unpack("!H", wire[:2])
    flags = dns.flags.QR | dns.rcode.FORMERR
    return struct.pack("!HHHHHH", query_id, flags, 0, 0, 0, 0)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DiscoveryServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        response = self._server.answer(data)
        if response is not None and self._transport is not None:
            self._transport.sendto(response, addr)

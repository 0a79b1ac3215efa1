"""The instances of a local Cloud Map namespace, and the answers Cloud Map's DNS gives for them.

Semantics follow Cloud Map's MULTIVALUE routing: up to 8 healthy instances, chosen at random,
with the service's TTL; when every instance is unhealthy, up to 8 of them anyway (fail open);
no instance at all: the name does not exist. Health is set by custom health updates.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

MAX_ANSWERS = 8
DEFAULT_TTL = 10  # the seed's dns_records { ttl = 10 }


class RegistryError(ValueError):
    """A request the registry cannot apply; the message says why."""


class NotFound(RegistryError):
    pass


@dataclass
class Instance:
    instance_id: str
    address: str  # IPv4, like AWS_INSTANCE_IPV4
    port: int
    healthy: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "instance_id": self.instance_id,
            "address": self.address,
            "port": self.port,
            "healthy": self.healthy,
        }


@dataclass
class Service:
    name: str
    ttl: int = DEFAULT_TTL
    instances: dict[str, Instance] = field(default_factory=dict)

    def answer(self) -> list[Instance]:
        """The instances DNS returns now (empty: NXDOMAIN)."""
        candidates = [i for i in self.instances.values() if i.healthy] or list(
            self.instances.values()
        )
        if len(candidates) > MAX_ANSWERS:
            return random.sample(candidates, MAX_ANSWERS)
        return candidates

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ttl": self.ttl,
            "instances": [instance.to_json() for instance in self.instances.values()],
        }


def default_instance_id(address: str, port: int) -> str:
    """A valid DNS label (SRV targets are `<instance-id>.<service>.<namespace>`)."""
    return f"{address.replace('.', '-')}-{port}"


class Registry:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace.strip(".").lower()
        self.services: dict[str, Service] = {}

    def register(
        self,
        service: str,
        instance_id: str | None,
        address: str,
        port: int,
        *,
        ttl: int | None = None,
    ) -> Instance:
        """Add or replace an instance; `ttl` sets the service's TTL (kept if None)."""
        _check_label(service, "service name")
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise RegistryError(f"{address!r} is not an IPv4 address") from None
        if not 1 <= port <= 65535:
            raise RegistryError(f"{port} is not a TCP port (1-65535)")
        if ttl is not None and not 0 <= ttl <= 2147483647:
            raise RegistryError(f"{ttl} is not a DNS TTL")
        instance_id = instance_id or default_instance_id(address, port)
        _check_label(instance_id, "instance id")
        entry = self.services.setdefault(service.lower(), Service(service.lower()))
        if ttl is not None:
            entry.ttl = ttl
        instance = Instance(instance_id, address, port)
        entry.instances[instance_id] = instance
        return instance

    def deregister(self, service: str, instance_id: str) -> Instance:
        return self._service(service).instances.pop(
            self._instance(service, instance_id).instance_id
        )

    def set_health(self, service: str, instance_id: str, healthy: bool) -> Instance:
        instance = self._instance(service, instance_id)
        instance.healthy = healthy
        return instance

    def lookup(self, service: str) -> Service | None:
        return self.services.get(service.lower())

    def _service(self, service: str) -> Service:
        found = self.lookup(service)
        if found is None:
            raise NotFound(f"no service {service!r} in {self.namespace}")
        return found

    def _instance(self, service: str, instance_id: str) -> Instance:
        instances = self._service(service).instances
        instance = instances.get(instance_id)
        address, _, port = instance_id.rpartition(":")
        if instance is None and address and port.isdigit():
            instance = instances.get(default_instance_id(address, int(port)))  # by its address
        if instance is None:
            raise NotFound(f"no instance {instance_id!r} in service {service!r}")
        return instance

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "services": [service.to_json() for service in self.services.values()],
        }


def _check_label(value: str, what: str) -> None:
    if not value or len(value) > 63 or not all(c.isalnum() or c in "-_" for c in value):
        raise RegistryError(f"{what} {value!r} must be a DNS label (letters, digits, '-', '_')")

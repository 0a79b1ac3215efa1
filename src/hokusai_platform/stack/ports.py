"""Fail fast on a port that is taken, naming the process that holds it when Linux tells us.

The holder is found the way `ss -ltnp` finds it: the listening socket's inode from
/proc/net/{tcp,tcp6,udp,udp6}, then the process whose file descriptors include that socket.
Processes of other users cannot be inspected without privileges; then only the port is named.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from pathlib import Path
from typing import Literal

Protocol = Literal["tcp", "udp"]
# /proc/net/tcp "st" column: 0A is LISTEN; unconnected UDP sockets show 07 (CLOSE).
_BOUND_STATE = {"tcp": "0A", "udp": "07"}
_PROC = Path("/proc")


class PortInUse(Exception):
    def __init__(self, message: str, port: int) -> None:
        super().__init__(message)
        self.port = port


def ensure_free(port: int, *, host: str, protocol: Protocol, purpose: str) -> None:
    """Raise `PortInUse` naming `purpose`, the port and its holder if `port` cannot be bound."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        # As servers bind: a listener conflicts, a connection lingering in TIME_WAIT does not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                message = f"{purpose}: cannot use {host}:{port}: {exc.strerror}"
                raise PortInUse(message, port) from None
            holder = port_holder(port, protocol)
            held_by = f" by {holder}" if holder else ""
            raise PortInUse(
                f"{purpose}: {protocol} port {port} is already in use{held_by}", port
            ) from None


def port_holder(port: int, protocol: Protocol) -> str | None:
    """`pid N (command line)` of a process bound to `port`, or None if it cannot be seen."""
    inodes = _bound_inodes(port, protocol)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for process in _PROC.iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for descriptor in (process / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if descriptor.readlink().name in targets:
                        return f"pid {process.name} ({_command_line(process)})"
    return None


def _bound_inodes(port: int, protocol: Protocol) -> set[str]:
    inodes: set[str] = set()
    for table in (f"{protocol}", f"{protocol}6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _BOUND_STATE[protocol]:
                inodes.add(fields[9])
    return inodes


def _command_line(process: Path) -> str:
    try:
        raw = (process / "cmdline").read_bytes()
    except OSError:
        return "?"
    command = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    return command if len(command) <= 120 else command[:117] + "..."

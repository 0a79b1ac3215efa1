"""What a server's and a client's connections share: where reading stands, flow control both
ways, and deadlines.

- `State` says where the reading side stands: IDLE between messages, HEAD while a message's
  head arrives (for a client: from the moment its request is sent), BODY while its body does,
  DONE once nothing more will be read, CLOSED.
- Flow control, as in uvicorn's flow_control.py and aiohttp's base_protocol.py: `drain` waits
  while the transport's write buffer is over its high-water mark; reading pauses while more
  than `BODY_BUFFER_HIGH` of a body waits for its reader, and resumes below `BODY_BUFFER_LOW`.
- The rest of a body of declared length bypasses the parser once its head is in: the parser
  would copy every piece once more, and such bodies are artifacts, and large.
- Deadlines: a connection times out at its `deadline` (None while it awaits nothing), as its
  one repeating timer finds, every `check_every` seconds: setting a deadline is an attribute
  write, and no timer is made or cancelled per request. A head must arrive whole in time; a
  body in time from its last piece, except while reading is paused because its reader is slow
  (that is back-pressure, not silence).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from enum import Enum
from typing import Any, cast


class State(Enum):
    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    DONE = "done"
    CLOSED = "closed"


# Module names for the members: read on every request, a global is one lookup, not two.
IDLE, HEAD, BODY, DONE, CLOSED = State

# Reading pauses once this much of a body waits for its reader, and resumes below the low mark.
BODY_BUFFER_HIGH = 256 * 1024
BODY_BUFFER_LOW = 64 * 1024


class Body:
    """A message body as it arrives, queued for its reader."""

    __slots__ = ("_buffered", "_chunks", "_error", "_protocol", "_waiter", "complete")

    def __init__(self, protocol: HttpProtocol) -> None:
        self._protocol = protocol
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self.complete = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def is_eof(self) -> bool:
        return self.complete and not self._chunks

    async def read_chunk(self) -> bytes:
        """The next piece of the body, b"" at its end."""
        while not self._chunks:
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = self._protocol.loop.create_future()
            await self._waiter
        chunk = self._chunks.popleft()
        self._taken(len(chunk))
        return chunk

    async def chunks(self) -> AsyncIterator[bytes]:
        """Each piece of the body as it arrives, until its end."""
        while chunk := await self.read_chunk():
            yield chunk

    def read_complete(self) -> bytes | None:
        """The whole body at once, if all of it has arrived (a small one usually has)."""
        if not self.complete:
            return None
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._taken(len(body))
        return body

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > BODY_BUFFER_HIGH:
            self._protocol.pause_reading()
        if self._waiter is not None:
            self._wake()

    def finish(self) -> None:
        self.complete = True
        if self._waiter is not None:
            self._wake()

    def fail(self, error: BaseException) -> None:
        if not self.complete:
            self._error = error
            self._wake()

    def _taken(self, size: int) -> None:
        self._buffered -= size
        if self._buffered < BODY_BUFFER_LOW:
            self._protocol.resume_reading()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class HttpProtocol(asyncio.Protocol):
    """One connection's reading state, flow control and deadline; the server's and the
    client's connections add their parser's callbacks and what each does on a timeout."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout: float,
        check_every: float,
        registry: set[Any],
    ) -> None:
        # Kept, not looked up: on Python 3.11 every get_running_loop() is a getpid() call.
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.state = IDLE
        self.deadline: float | None = None
        self.timeout = timeout
        self._check_every = check_every
        self._watchdog: asyncio.TimerHandle | None = None
        self._registry = registry  # the open connections of this one's server or client
        self._parser = self._new_parser()
        self._body: Body | None = None  # the body being read
        self._length: int | None = None  # its declared length
        self._received = 0  # how much of it has arrived
        self._body_left = 0  # how much of it is still to come, past the parser
        self._reading_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # For subclasses.

    def _new_parser(self) -> Any:
        raise NotImplementedError

    def _parse(self, data: bytes) -> None:
        """Feed `data` to the parser, answering whatever it refuses."""
        raise NotImplementedError

    def timed_out(self) -> None:
        """The deadline passed."""
        raise NotImplementedError

    def _closed_error(self) -> Exception:
        """What a write to a closed connection raises."""
        raise NotImplementedError

    def on_message_complete(self) -> None:
        raise NotImplementedError

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._registry.add(self)
        self._watchdog = self.loop.call_later(self._check_every, self._watch)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = CLOSED
        self.deadline = None
        self._registry.discard(self)
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._wake_writer()

    def data_received(self, data: bytes) -> None:
        if self._body_left:
            data = self._take_body(data)
            if not data:
                return
        self._parse(data)
        if self.state is BODY and self._length:
            self._body_left = self._length - self._received

    def pause_writing(self) -> None:
        self._drain_waiter = self.loop.create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    # The parser's callback for a body's pieces; the bypass feeds the rest the same way.

    def on_body(self, data: bytes) -> None:
        body = self._body
        if body is not None:
            self._received += len(data)
            self.deadline = self.loop.time() + self.timeout
            body.feed(data)

    def _take_body(self, data: bytes) -> bytes:
        """Feed the body what belongs to it; return what follows it."""
        # Slicing copies nothing when the body takes all of `data` (the common case).
        left = self._body_left
        piece, rest = data[:left], data[left:]
        self._body_left = left - len(piece)
        self.on_body(piece)
        if not self._body_left:
            self._parser = self._new_parser()  # the old one is mid-body
            self.on_message_complete()
        return rest

    # Writing, with flow control.

    def write(self, data: bytes) -> None:
        if self.state is not CLOSED and self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport takes more; raise if the connection is closed."""
        if self.state is CLOSED:
            raise self._closed_error()
        waiter = self._drain_waiter
        if waiter is not None:
            await waiter
            if self.state is CLOSED:
                raise self._closed_error()

    def pause_reading(self) -> None:
        """A body's reader is behind: stop reading (and stop counting silence) until it
        catches up."""
        if not self._reading_paused and self.state is not CLOSED and self.transport:
            self._reading_paused = True
            self.deadline = None
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            if self.state is not CLOSED and self.state is not DONE and self.transport:
                if self.state is BODY:
                    self.deadline = self.loop.time() + self.timeout
                self.transport.resume_reading()

    def stop_reading(self) -> None:
        """Read nothing more on this connection."""
        if self.state is not CLOSED and self.transport:
            self.state = DONE
            self.transport.pause_reading()

    def close(self) -> None:
        if self.state is not CLOSED and self.transport is not None:
            self.state = CLOSED
            self.transport.close()

    def _wake_writer(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _watch(self) -> None:
        if self.deadline is not None and self.deadline <= self.loop.time():
            self.deadline = None
            self.timed_out()
        if self.state is not CLOSED:
            self._watchdog = self.loop.call_later(self._check_every, self._watch)

"""Transport shortcuts under uvicorn: the direct write path, and dropping a socket at once.

Both reach into uvicorn's websockets-sansio protocol object behind a socket's ASGI `send`
and return None under any other server (Channels' test communicator included), in which
case the consumer's queue and `send` do the work. `WS_DIRECT_WRITE` turns the direct path
off (a kill switch, should a uvicorn upgrade change these internals). See
docs/live-room.md, "The direct path".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.sessions import InstanceSessionWrapper

#: Writes one ready-made WebSocket frame to a socket now; False when it cannot (see below).
DirectWrite = Callable[[bytes], bool]


def _uvicorn_protocol(send: Any) -> Any:
    """uvicorn's websockets-sansio protocol object behind an ASGI `send`, or None."""
    for _ in range(4):
        owner = getattr(send, "__self__", None)
        if type(owner).__module__ == "uvicorn.protocols.websockets.websockets_sansio_impl":
            return owner
        if isinstance(owner, InstanceSessionWrapper):
            # Channels' session middleware wraps `send` only to save the session on
            # accept; a data frame passes through it untouched.
            send = owner.real_send
            continue
        return None
    return None


def uvicorn_abort(send: Any) -> Callable[[], None] | None:
    """Drops a socket served by uvicorn at once: aborts its transport (no close frame —
    a peer that reads nothing would never read it). None under another server."""
    proto = _uvicorn_protocol(send)
    transport = getattr(proto, "transport", None)
    if transport is None:
        return None
    return transport.abort


def uvicorn_direct_write(send: Any) -> DirectWrite | None:
    """The direct path to a socket served by uvicorn's websockets-sansio protocol.

    Going through the ASGI `send` costs, per socket and per event, a task switch, a UTF-8
    encode and a frame serialization. When the socket has no extension (no per-message
    deflate: frames are plain), is open, and its transport is not paused, writing the
    event's ready-made frame to the transport is exactly what `send` would do, minus that
    work. Anything else — another server, compression, a paused or closing socket — gets
    None or False, and the frame goes through the socket's queue and `send` as usual.
    """
    proto = _uvicorn_protocol(send)
    if proto is None:
        return None
    try:
        # Lazy: reached only under uvicorn's websockets-sansio protocol; `websockets` comes
        # with uvicorn[standard], it is not one of our own runtime dependencies.
        from websockets.protocol import State

        conn, transport, writable = proto.conn, proto.transport, proto.writable
        if conn.extensions:
            return None
    except AttributeError:  # a uvicorn we do not know: play safe
        return None
    opened = State.OPEN

    def write(frame: bytes) -> bool:
        if (
            proto.disconnected
            or proto.close_sent
            or not writable.is_set()
            or conn.state is not opened
            or conn.expect_continuation_frame
        ):
            return False
        try:
            transport.write(frame)
        except Exception:  # closed under our feet: let the queue and `send` deal with it
            return False
        return True

    return write

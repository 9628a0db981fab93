"""The server's address, claimed before anything is printed or written: a port another
server holds is an error naming it, not a second server that the kernel splits requests
with (granian binds with SO_REUSEPORT, which lets any number of servers of one user
share a port), and a host that cannot be listened on fails before the admin password is
made and shown.

The claim is a socket bound without SO_REUSEPORT, which fails if anything listens there.
uvicorn is handed that socket to listen on. granian binds its own (in each worker, with
SO_REUSEPORT), so for granian the claim is re-made as a guard: bound with SO_REUSEPORT,
never listening (so it receives no connections), held for the life of the server, so that
a later server's claim fails while this one runs. `--reuse-port` skips the check, for a
user who shares a port on purpose.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


class CannotListen(Exception):
    """The server cannot have its address; the message says which and why."""


@dataclass
class Claim:
    """A bound socket holding the server's address (see the module text)."""

    sock: socket.socket
    host: str
    port: int  # the real one, also when 0 asked for any free port

    def close(self) -> None:
        self.sock.close()


def claim(host: str, port: int, *, share: bool = False, guard: bool = False) -> Claim:
    """Bind `host`:`port` (without SO_REUSEPORT unless `share`). With `guard`, the socket
    is re-bound with SO_REUSEPORT so that granian's workers can bind beside it."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise CannotListen(f"cannot listen on {where}: unknown host {host!r}") from exc
    sock = _bound(family, kind, proto, address, share, where)
    if guard and not share:
        port = sock.getsockname()[1]
        sock.close()
        sock = _bound(family, kind, proto, (address[0], port, *address[2:]), True, where)
    return Claim(sock, host, sock.getsockname()[1])


def _bound(
    family: int, kind: int, proto: int, address: tuple[object, ...], share: bool, where: str
) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
        if share:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"cannot listen on {where}: port {address[1]} is already in use (another"
                " server?); choose another --port, or --reuse-port to share it on purpose"
            ) from exc
        reason = exc.strerror or str(exc)
        raise CannotListen(f"cannot listen on {where}: {reason}") from exc
    return sock

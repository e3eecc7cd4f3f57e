"""Serving the dashboard with uvicorn, after the checks that need no request."""

from __future__ import annotations

import errno
import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from starlette.applications import Starlette

logger = logging.getLogger(__name__)


def check_port_free(host: str, port: int) -> None:
    """``OSError`` with a one-line message if ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "already in use" if error.errno == errno.EADDRINUSE else error.strerror
            raise OSError(f"Cannot listen on {host}:{port}: {reason}") from error


def serve(app: Starlette, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then finish the requests under way and return."""
    check_port_free(host, port)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    _Server(config).run()


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop signal ends it with exit status 0.

    uvicorn raises the signal again once it has shut down, so the process would report
    death by SIGTERM; a service stopped on purpose has not failed.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {number: signal.signal(number, self._stop) for number in stops}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _stop(self, number: int, frame: FrameType | None) -> None:
        # A second signal while requests finish stops at once, as uvicorn's own does.
        self.force_exit = self.should_exit
        self.should_exit = True

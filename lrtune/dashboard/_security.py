"""Who may read the dashboard, and the headers every answer carries.

On the loopback interface with no token, only requests addressed to a loopback name are
served (a page elsewhere cannot reach the dashboard by rebinding its DNS name to
127.0.0.1). With a token, every request must carry it: ``Authorization: Bearer TOKEN``, or
a link's ``?token=TOKEN``, which sets a cookie and redirects to the same page without it.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "lrtune_dashboard_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")

SECURITY_HEADERS = {
    # No inline script or style anywhere: names from the database can never run as code.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

SVG_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"
)
"""The Content-Security-Policy of an SVG: Matplotlib's SVG paints with ``style``
attributes and a ``<style>`` element, so an SVG opened on its own (not through an
``<img>``, where no policy of its own applies) under the pages' policy would be drawn
all black; the dense parts of a big study's figures are PNG images inside it
(``data:`` URLs). Nothing else may load or run in it (``sandbox``: no script at all)."""


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` serves this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TokenGate:
    """Refuse (401) every request that does not carry ``token``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token")
        if given is not None and self._matches(given):
            await self._set_cookie(request.url)(scope, receive, send)
        elif self._matches(_bearer(request) or request.cookies.get(COOKIE) or ""):
            await self.app(scope, receive, send)
        else:
            await _refused()(scope, receive, send)

    def _matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _set_cookie(self, url: URL) -> Response:
        query = "&".join(
            part for part in url.query.split("&") if part and not part.startswith("token=")
        )
        response = RedirectResponse(str(url.replace(query=query)), status_code=303)
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


class LoopbackHosts:
    """Serve only requests whose ``Host`` is a loopback name (DNS rebinding)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _host_name(Request(scope)) not in LOOPBACK_NAMES:
            response = PlainTextResponse("Invalid host header", status_code=400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def with_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Add ``SECURITY_HEADERS`` (an SVG's policy is ``SVG_POLICY``) and a ``Server-Timing``
    header with the time spent here."""
    start = time.perf_counter()
    response = await call_next(request)
    elapsed_ms = 1000 * (time.perf_counter() - start)
    response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    if response.headers.get("content-type", "").startswith("image/svg+xml"):
        response.headers.setdefault("Content-Security-Policy", SVG_POLICY)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _refused() -> Response:
    return PlainTextResponse(
        "This dashboard needs its token: open the link `lrtune dashboard` printed, "
        "or send the header 'Authorization: Bearer TOKEN'.",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )

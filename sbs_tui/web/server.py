"""One URL for the whole team: token sign-in, a private app process per browser session, and the checks a served
terminal app needs before anyone but its owner can reach it.

Why not plain ``textual_serve.Server``: it runs one fixed command for whoever connects, accepts a WebSocket from
any web page (a page on another site could open ``ws://127.0.0.1:8000/ws`` and type votes into an annotator's
session), and its page loads fonts from a public CDN. Here:

* ``GET /?token=T`` (the personal link ``sbs annotators add`` prints, or the sign-in form) resolves the token to
  an annotator or lead; a wrong or revoked token gets 403 and the sign-in form again.
* The page it returns carries a one-time *ticket* in its WebSocket URL (``/ws/<ticket>``), valid for
  :data:`TICKET_TTL_S` and bound to that person and app; the WebSocket is accepted only with a live ticket **and**
  an ``Origin`` header naming this server, so no other page can drive a session even on loopback.
* An annotator gets ``sbs annotate --annotator NAME`` (their own queue, never another's votes); only a lead's token
  opens ``sbs review`` (``/?token=T&app=review``).
* Sessions are capped (in all and per person) so a stuck client cannot fork the machine to death.
* The page and its fonts, script and stylesheet come from this server only (a Content-Security-Policy says so).

The app processes are textual-serve's :class:`~textual_serve.app_service.AppService`, as in ``textual serve``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

log = logging.getLogger("sbs.serve")

TICKET_TTL_S = 60.0
APPS = ("annotate", "review")
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",  # the personal link carries the token
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Ticket:
    name: str
    app: str
    expires: float


@dataclass
class ServeOptions:
    db_path: Path
    config_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    max_sessions: int = 64
    max_sessions_per_person: int = 2
    extra_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def allowed_origins(self) -> set[str]:
        """Origins a browser page of this server sends: the public URL's, plus the loopback spellings."""
        origins = {_origin(self.base_url), f"http://{self.host}:{self.port}"}
        if self.host in ("127.0.0.1", "localhost", "::1"):
            origins |= {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}",
                        f"http://[::1]:{self.port}"}
        return origins | {_origin(o) for o in self.extra_origins}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class TeamServer:
    """The aiohttp application behind ``sbs serve``. Build with :meth:`make_app`; tests drive it in-process."""

    def __init__(self, options: ServeOptions):
        self.options = options
        self.tickets: dict[str, Ticket] = {}
        self.sessions: Counter[str] = Counter()
        self._origins = options.allowed_origins()
        templates = files("sbs_tui.web")
        self._page = templates.joinpath("page.html").read_text(encoding="utf-8")
        self._signin = templates.joinpath("signin.html").read_text(encoding="utf-8")

    # -- accounts ------------------------------------------------------------------------------------------------

    def _resolve(self, token: str | None):
        from sbs_tui.core.store import Store
        from sbs_tui.core.team import resolve_token

        with Store(self.options.db_path) as store:
            return resolve_token(store, token)

    # -- routes ---------------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        import textual_serve

        static = Path(textual_serve.__file__).parent / "static"
        app = web.Application(middlewares=[self._headers])
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws/{ticket}", self.handle_websocket),
            web.static("/static", static),
        ])
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler):
        response = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _signin_page(self, message: str, status: int) -> web.Response:
        body = self._signin.replace("{{MESSAGE}}", html.escape(message))
        return web.Response(text=body, content_type="text/html", status=status)

    async def handle_index(self, request: web.Request) -> web.Response:
        token = request.query.get("token")
        if not token:
            return self._signin_page("", 200)
        account = await asyncio.to_thread(self._resolve, token)
        if account is None:
            log.warning("refused sign-in from %s: unknown or revoked token", request.remote)
            return self._signin_page("That token is not valid (unknown or revoked).", 403)
        app_name = request.query.get("app", "annotate")
        if app_name not in APPS:
            raise web.HTTPBadRequest(text=f"unknown app {app_name!r}; one of {', '.join(APPS)}")
        if app_name == "review" and account.role != "lead":
            log.warning("refused review app for annotator %r", account.name)
            raise web.HTTPForbidden(text="the review app needs a lead's token")
        self._expire_tickets()
        ticket = secrets.token_urlsafe(24)
        self.tickets[ticket] = Ticket(account.name, app_name, time.monotonic() + TICKET_TTL_S)
        ws_base = "wss" if self.options.base_url.startswith("https") else "ws"
        ws_url = f"{ws_base}://{urlsplit(self.options.base_url).netloc}/ws/{ticket}"
        title = f"sbs {app_name} — {account.name}"
        body = self._page.replace("{{TITLE}}", html.escape(title)).replace("{{WS_URL}}", html.escape(ws_url))
        return web.Response(text=body, content_type="text/html")

    def _expire_tickets(self) -> None:
        now = time.monotonic()
        for key in [k for k, t in self.tickets.items() if t.expires < now]:
            del self.tickets[key]

    def command_for(self, ticket: Ticket) -> str:
        parts = [sys.executable, "-m", "sbs_tui", "--db", str(self.options.db_path.resolve())]
        if self.options.config_path:
            parts += ["--config", str(self.options.config_path.resolve())]
        if ticket.app == "review":
            parts += ["review"]
        else:
            # One gate watcher is enough for the whole team; the served sessions never start their own.
            parts += ["annotate", "--annotator", ticket.name, "--no-gate-watch"]
        return shlex.join(parts)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin", "").lower()
        if origin not in self._origins:
            log.warning("refused WebSocket from origin %r", origin)
            raise web.HTTPForbidden(text="origin not allowed")
        self._expire_tickets()
        ticket = self.tickets.pop(request.match_info["ticket"], None)
        if ticket is None:
            raise web.HTTPForbidden(text="no such session ticket (expired or used); reload the page")
        if sum(self.sessions.values()) >= self.options.max_sessions:
            raise web.HTTPServiceUnavailable(text="too many sessions on this server")
        if self.sessions[ticket.name] >= self.options.max_sessions_per_person:
            raise web.HTTPTooManyRequests(text=f"{ticket.name} already has open sessions; close one first")

        from textual_serve.app_service import AppService
        from textual_serve.download_manager import DownloadManager

        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        width = _to_int(request.query.get("width"), 80)
        height = _to_int(request.query.get("height"), 24)
        self.sessions[ticket.name] += 1
        service = AppService(self.command_for(ticket), write_bytes=websocket.send_bytes,
                             write_str=websocket.send_str, close=websocket.close,  # type: ignore[arg-type]
                             download_manager=DownloadManager(), debug=False)
        try:
            await service.start(width, height)
            await self._pump(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        finally:
            self.sessions[ticket.name] -= 1
            await service.stop()
        return websocket

    @staticmethod
    async def _pump(websocket: web.WebSocketResponse, service) -> None:
        """Browser → app: keystrokes, resizes, focus; the app's output goes back through ``write_bytes``."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, *rest = message.json()
            except (ValueError, TypeError):
                continue
            if kind == "stdin" and rest and isinstance(rest[0], str):
                await service.send_bytes(rest[0].encode("utf-8"))
            elif kind == "resize" and rest and isinstance(rest[0], dict):
                await service.set_terminal_size(_to_int(rest[0].get("width"), 80), _to_int(rest[0].get("height"), 24))
            elif kind == "ping" and rest:
                await websocket.send_json(["pong", rest[0]])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()


def _to_int(value: object, default: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return min(max(number, 10), 1000)


def serve(options: ServeOptions) -> None:
    """Run the team server until Ctrl+C / SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    web.run_app(TeamServer(options).make_app(), host=options.host, port=options.port, print=None,
                access_log=None)

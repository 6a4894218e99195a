"""One URL for the whole team: token sign-in, a private app process per browser session, and the checks a served
terminal app needs before anyone but its owner can reach it.

Why not plain ``textual_serve.Server``: it runs one fixed command for whoever connects, accepts a WebSocket from
any web page (a page on another site could open ``ws://127.0.0.1:8000/ws`` and type votes into an annotator's
session), and its page loads fonts from a public CDN. Here:

* ``GET /?token=T`` (the personal link ``sbs annotators add`` prints) or the sign-in form (``POST /signin``)
  resolves the token to an annotator or lead; a wrong or revoked token gets 403 and the sign-in form again.
  A valid token is exchanged for a session cookie (``HttpOnly``, ``SameSite=Strict``) and the browser is sent on
  to a URL without the token, so it stays out of the address bar, the history, a proxy's later log lines and any
  ``Referer``. (The hop is a ``Refresh`` page, not a 303: a browser does not send a ``Strict`` cookie on a redirect
  that a link on another site started, so a personal link clicked in a mail would land on the sign-in form.)
* The app page carries a one-time *ticket* in its WebSocket URL (``/ws/<ticket>``), valid for
  :data:`TICKET_TTL_S` and bound to that person, app and token; the WebSocket is accepted only with a live ticket
  **and** an ``Origin`` header naming this server, so no other page can drive a session even on loopback.
* An annotator gets ``sbs annotate --annotator NAME`` (their own queue, never another's votes); only a lead's token
  opens ``sbs review`` — a lead's link opens it by default (``&app=annotate``: the annotator app). With
  ``[arena] web = true`` (:attr:`ServeOptions.arena`) anyone signed in may open ``/?app=arena``: ``sbs arena
  --annotator NAME``, the live arena, under their own name; without it that link gets 403 and says why.
* Revocation (``sbs annotators revoke``, another process) is noticed within :data:`REVOCATION_POLL_S`: that
  person's open sessions are closed, their tickets and cookies forgotten. The vote itself is refused in the
  database from the moment the revocation commits (``store.queue.record_vote``), so nothing slips in between.
* Sessions are capped (in all and per person) so a stuck client cannot fork the machine to death; failed sign-ins
  are rate limited per client (:data:`SIGNIN_FAILURES`), and logged as one summary line per client and window.
* Every response — pages, static files, 403s and 404s — carries the security headers (CSP ``'self'``,
  ``no-referrer``, ``no-store``): the page and its fonts, script and stylesheet come from this server only.
* App processes die with the server, also after ``kill -9`` (:mod:`sbs_tui.core.lifeline`, through
  ``SBS_PARENT_PID``), and are started without a shell in between, so the server is their direct parent.
* ``sbs serve --annotator NAME`` is a one-person team: the same pages and checks, with a token made at start-up
  (kept in memory only) instead of one from ``sbs annotators add``.

The app processes are textual-serve's :class:`~textual_serve.app_service.AppService`, as in ``textual serve``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import secrets
import shlex
import sys
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiohttp import WSMsgType, web

log = logging.getLogger("sbs.serve")

TICKET_TTL_S = 60.0
REVOCATION_POLL_S = 1.0  # how soon a revocation made by another process closes that person's sessions
SIGNIN_WINDOW_S = 60.0
SIGNIN_FAILURES = 10  # failed sign-ins a client may make per window; beyond that 429 without looking the token up
SESSION_COOKIE = "sbs_session"
APPS = ("annotate", "review", "arena")
ARENA_OFF = "The arena is not open in this campaign: the lead turns it on with [arena] web = true."
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Ticket:
    name: str
    app: str
    expires: float
    digest: str = ""  # the token that signed this person in: a revoked or re-issued token voids the ticket


@dataclass(frozen=True, slots=True)
class SignIn:
    """What a session cookie stands for (kept in memory only: a restarted server asks for the link again)."""

    name: str
    role: str
    digest: str


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
    solo: str | None = None  # `sbs serve --annotator NAME`: only this person, with a token made at start-up
    arena: bool = False  # [arena] web: signed-in people may open the live arena (/?app=arena)

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


@dataclass(eq=False)
class LiveSession:
    """One browser session and its app process."""

    name: str
    app: str
    digest: str
    websocket: web.WebSocketResponse
    revoked: bool = False


class SignInLimiter:
    """Failed sign-ins per client in a sliding window, and the one summary line per client that replaces a
    WARNING per attempt (a script guessing tokens must not flood the log, nor get unlimited guesses)."""

    def __init__(self, *, limit: int = SIGNIN_FAILURES, window: float = SIGNIN_WINDOW_S,
                 clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.refused: Counter[str] = Counter()  # since the last summary: failed attempts
        self.limited: Counter[str] = Counter()  # ... of which refused unread because of the limit

    def _trim(self, client: str) -> deque[float]:
        times = self.failures[client]
        cutoff = self.clock() - self.window
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        if len(self._trim(client)) >= self.limit:
            self.refused[client] += 1
            self.limited[client] += 1
            return True
        return False

    def failed(self, client: str) -> None:
        self._trim(client).append(self.clock())
        self.refused[client] += 1

    def summarise(self) -> list[str]:
        """Log (and return) one line per client refused since the last call."""
        lines = []
        for client, n in sorted(self.refused.items()):
            limited = self.limited.get(client, 0)
            extra = f", {limited} of them rate-limited unread" if limited else ""
            lines.append(f"refused {n} sign-in attempt(s) from {client} (unknown or revoked token{extra})")
        for line in lines:
            log.warning("%s", line)
        self.refused.clear()
        self.limited.clear()
        for client in [c for c in self.failures if not self._trim(c)]:
            del self.failures[client]
        return lines


class TeamServer:
    """The aiohttp application behind ``sbs serve``. Build with :meth:`make_app`; tests drive it in-process."""

    def __init__(self, options: ServeOptions):
        self.options = options
        self.tickets: dict[str, Ticket] = {}
        self.signins: dict[str, SignIn] = {}
        self.sessions: Counter[str] = Counter()
        self.live: set[LiveSession] = set()
        self.limiter = SignInLimiter()
        self._origins = options.allowed_origins()
        self._tasks: list[asyncio.Task] = []
        self.solo_token: str | None = secrets.token_urlsafe(24) if options.solo else None
        templates = files("sbs_tui.web")
        self._page = templates.joinpath("page.html").read_text(encoding="utf-8")
        self._signin = templates.joinpath("signin.html").read_text(encoding="utf-8")
        self._hop = templates.joinpath("hop.html").read_text(encoding="utf-8")

    # -- accounts ------------------------------------------------------------------------------------------------

    def _resolve(self, token: str | None):
        from sbs_tui.core.store.accounts import Account
        from sbs_tui.core.team import token_digest

        if self.options.solo is not None:
            if token and self.solo_token and secrets.compare_digest(token_digest(token),
                                                                    token_digest(self.solo_token)):
                return Account(self.options.solo, "annotator", "", None)
            return None
        from sbs_tui.core.store import Store
        from sbs_tui.core.team import resolve_token

        with Store(self.options.db_path) as store:
            return resolve_token(store, token)

    def _live_digests(self) -> set[str]:
        from sbs_tui.core.team import token_digest

        if self.options.solo is not None:
            return {token_digest(self.solo_token or "")}
        from sbs_tui.core.store import Store

        with Store(self.options.db_path) as store:
            return store.accounts.live_digests()

    # -- routes ---------------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        import textual_serve

        static = Path(textual_serve.__file__).parent / "static"
        app = web.Application()
        # on_response_prepare, not a middleware: it also sees the 403/404s aiohttp makes from raised exceptions
        # and the static files' responses.
        app.on_response_prepare.append(self._headers)
        app.on_startup.append(self._start_background)
        app.on_cleanup.append(self._stop_background)
        app.add_routes([
            web.get("/", self.handle_index),
            web.post("/signin", self.handle_signin),
            web.get("/ws/{ticket}", self.handle_websocket),
            web.static("/static", static),
        ])
        return app

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)

    async def _start_background(self, app: web.Application) -> None:
        self._tasks = [asyncio.create_task(self._watch_revocations()),
                       asyncio.create_task(self._summarise_signins())]

    async def _stop_background(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.limiter.summarise()

    async def _summarise_signins(self) -> None:
        while True:
            await asyncio.sleep(SIGNIN_WINDOW_S)
            self.limiter.summarise()

    async def _watch_revocations(self) -> None:
        while True:
            await asyncio.sleep(REVOCATION_POLL_S)
            try:
                await self.check_revocations()
            except Exception as exc:  # noqa: BLE001 - a busy or failing database must not stop the watch
                log.debug("revocation check failed: %s", exc)

    async def check_revocations(self) -> int:
        """Close the sessions, and forget the tickets and cookies, of tokens no longer live; returns how many
        sessions were closed."""
        if not (self.live or self.tickets or self.signins):
            return 0
        live = await asyncio.to_thread(self._live_digests)
        for key in [k for k, t in self.tickets.items() if t.digest not in live]:
            del self.tickets[key]
        for key in [k for k, s in self.signins.items() if s.digest not in live]:
            del self.signins[key]
        doomed = [s for s in self.live if s.digest not in live and not s.revoked]
        for name in sorted({s.name for s in doomed}):
            n = sum(1 for s in doomed if s.name == name)
            log.warning("%s's access was revoked: closing %d open session(s)", name, n)
        for session in doomed:
            session.revoked = True
            await session.websocket.close(message=b"access revoked")
        return len(doomed)

    def _signin_page(self, message: str, status: int) -> web.Response:
        body = self._signin.replace("{{MESSAGE}}", html.escape(message))
        return web.Response(text=body, content_type="text/html", status=status)

    async def _sign_in(self, request: web.Request, token: str | None, app_name: str | None) -> web.Response:
        """A token in: a session cookie and a hop to the same page without the token; or 403 / 429. Without an
        app named, the account's role picks it (:func:`sbs_tui.core.team.default_app`: a lead reviews)."""
        client = request.remote or "?"
        if self.limiter.blocked(client):
            return self._signin_page("Too many failed sign-ins from here; wait a minute.", 429)
        account = await asyncio.to_thread(self._resolve, token)
        if account is None:
            self.limiter.failed(client)
            return self._signin_page("That token is not valid (unknown or revoked).", 403)
        from sbs_tui.core.team import default_app, token_digest

        sid = secrets.token_urlsafe(32)
        self.signins[sid] = SignIn(account.name, account.role, token_digest(token or ""))
        app_name = app_name or default_app(account.role)
        target = "/" + (f"?{urlencode({'app': app_name})}" if app_name != default_app(account.role) else "")
        body = self._hop.replace("{{TARGET}}", html.escape(target))
        response = web.Response(text=body, content_type="text/html", headers={"Refresh": f"0; url={target}"})
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Strict", path="/",
                            secure=self.options.base_url.startswith("https"))
        return response

    async def handle_signin(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = form.get("token")
        app_name = str(form.get("app") or "annotate")
        if app_name not in APPS:
            raise web.HTTPBadRequest(text=f"unknown app {app_name!r}; one of {', '.join(APPS)}")
        return await self._sign_in(request, token if isinstance(token, str) else None, app_name)

    async def handle_index(self, request: web.Request) -> web.Response:
        from sbs_tui.core.team import default_app

        app_name = request.query.get("app")
        if app_name is not None and app_name not in APPS:
            raise web.HTTPBadRequest(text=f"unknown app {app_name!r}; one of {', '.join(APPS)}")
        if "token" in request.query:
            return await self._sign_in(request, request.query.get("token"), app_name)
        signin = self.signins.get(request.cookies.get(SESSION_COOKIE, ""))
        if signin is None:
            return self._signin_page("", 200)
        app_name = app_name or default_app(signin.role)
        if signin.digest not in await asyncio.to_thread(self._live_digests):
            self.signins.pop(request.cookies.get(SESSION_COOKIE, ""), None)
            return self._signin_page("Your access was revoked or your token re-issued: sign in again.", 403)
        if app_name == "review" and signin.role != "lead":
            log.warning("refused review app for annotator %r", signin.name)
            raise web.HTTPForbidden(text="the review app needs a lead's token")
        if app_name == "arena" and not self.options.arena:
            raise web.HTTPForbidden(text=ARENA_OFF)
        self._expire_tickets()
        ticket = secrets.token_urlsafe(24)
        self.tickets[ticket] = Ticket(signin.name, app_name, time.monotonic() + TICKET_TTL_S, signin.digest)
        ws_base = "wss" if self.options.base_url.startswith("https") else "ws"
        ws_url = f"{ws_base}://{urlsplit(self.options.base_url).netloc}/ws/{ticket}"
        title = f"sbs {app_name} — {signin.name}"
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
            # The lead's annotator app, one key (a) away: the session cookie signs them in, so no token here.
            parts += ["review", "--annotate-url", f"{self.options.base_url}/?{urlencode({'app': 'annotate'})}"]
        elif ticket.app == "arena":
            # The arena gates each battle's answers at once: it starts (or shares) the database's one watcher.
            parts += ["arena", "--annotator", ticket.name]
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
        if ticket.digest not in await asyncio.to_thread(self._live_digests):
            log.warning("refused a ticket of %s: access revoked since it was issued", ticket.name)
            raise web.HTTPForbidden(text="access revoked")
        if ticket.app == "arena" and not self.options.arena:
            raise web.HTTPForbidden(text=ARENA_OFF)
        if sum(self.sessions.values()) >= self.options.max_sessions:
            raise web.HTTPServiceUnavailable(text="too many sessions on this server")
        if self.sessions[ticket.name] >= self.options.max_sessions_per_person:
            raise web.HTTPTooManyRequests(text=f"{ticket.name} already has open sessions; close one first")

        from textual_serve.download_manager import DownloadManager

        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        width = _to_int(request.query.get("width"), 80)
        height = _to_int(request.query.get("height"), 24)
        self.sessions[ticket.name] += 1
        session = LiveSession(ticket.name, ticket.app, ticket.digest, websocket)
        self.live.add(session)
        service = _AppProcess(self.command_for(ticket), write_bytes=websocket.send_bytes,
                              write_str=websocket.send_str, close=websocket.close,
                              download_manager=DownloadManager(), debug=False)
        try:
            await service.start(width, height)
            await self._pump(websocket, session, service)
        except asyncio.CancelledError:
            await websocket.close()
        finally:
            self.live.discard(session)
            self.sessions[ticket.name] -= 1
            # The app's own quit path runs (a pending vote is saved, or discarded after a revocation).
            await service.stop()
        return websocket

    @staticmethod
    async def _pump(websocket: web.WebSocketResponse, session: LiveSession, service) -> None:
        """Browser → app: keystrokes, resizes, focus; the app's output goes back through ``write_bytes``."""
        async for message in websocket:
            if session.revoked:
                break
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


def _app_service_class():
    from textual_serve.app_service import AppService

    class AppProcess(AppService):
        """textual-serve's app process, started without a shell (the server is its parent, so the lifeline's
        parent check sees the server) and told which process it must die with (``SBS_PARENT_PID``)."""

        def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
            from sbs_tui.core.lifeline import PARENT_ENV

            env = super()._build_environment(width, height)
            env[PARENT_ENV] = str(os.getpid())
            return env

        async def _open_app_process(self, width: int = 80, height: int = 24):
            self._process = process = await asyncio.create_subprocess_exec(
                *shlex.split(self.command), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self._build_environment(width=width, height=height))
            assert process.stdin is not None
            self._stdin = process.stdin
            return process

        async def stop(self) -> None:
            """Ask the app to quit, and wait for the process itself to end (it bounds its own exit: a vote
            waiting for the database gets ``EXIT_SAVE_SECONDS``), so it is reaped and its pipes closed."""
            await super().stop()
            if self._process is not None and self._process.returncode is None:
                await self._process.wait()

        @property
        def pid(self) -> int | None:
            return self._process.pid if self._process is not None else None

    return AppProcess


def _AppProcess(*args, **kwargs):  # noqa: N802 - a class made on first use (textual_serve loads lazily)
    return _app_service_class()(*args, **kwargs)


def _to_int(value: object, default: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return min(max(number, 10), 1000)


def serve(options: ServeOptions, *, server: TeamServer | None = None) -> None:
    """Run the team server until Ctrl+C / SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    web.run_app((server or TeamServer(options)).make_app(), host=options.host, port=options.port, print=None,
                access_log=None)

"""A fault-injecting HTTP proxy in front of the test cluster's API server, on loopback.

deployctl talks plain HTTP to 127.0.0.1:<port> (a kubeconfig the proxy writes);
the proxy forwards to the API server over TLS with the admin's client
certificate, and on the way applies the faults a test scripts: a status (429
with Retry-After, 500, 503), a reset connection, a delay, a lost answer (the
request reaches the server, the answer never reaches the client), a watch cut
after a few seconds, and 410 Gone on a re-watch. Built on aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import ssl
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
}


@dataclass
class Fault:
    """One scripted fault: which requests it hits, what it does, how often."""

    action: str  # status | reset | delay | lose-answer | cut-watch | gone
    method: str = ".*"  # regular expressions on the method and the path (with query)
    path: str = ".*"
    times: int = 1_000_000  # how many requests it hits at most
    every: int = 1  # hit one matching request in `every`
    after: int = 0  # let the first `after` matching requests through
    status: int = 503
    retry_after: str | None = None
    seconds: float = 2.0
    seen: int = 0
    fired: int = 0

    def hits(self, method: str, path: str) -> bool:
        if self.fired >= self.times:
            return False
        if not (re.fullmatch(self.method, method) and re.search(self.path, path)):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.seen - self.after - 1) % self.every:
            return False
        self.fired += 1
        return True


def _pem(entry: dict, field: str) -> bytes:
    """A kubeconfig credential, whether a file (kwok's) or embedded as `<field>-data` (kind's)."""
    if f"{field}-data" in entry:
        return base64.b64decode(entry[f"{field}-data"])
    return Path(entry[field]).read_bytes()


@dataclass
class FaultProxy:
    kubeconfig: Path
    context: str
    faults: list[Fault] = field(default_factory=list)
    fired: Counter = field(default_factory=Counter)
    port: int = 0

    def __post_init__(self) -> None:
        config = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c for c in config["contexts"] if c["name"] == self.context)["context"]
        cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u for u in config["users"] if u["name"] == context["user"])["user"]
        self.upstream = cluster["cluster"]["server"].rstrip("/")
        self.tls = ssl.create_default_context(
            cadata=_pem(cluster["cluster"], "certificate-authority").decode()
        )
        # load_cert_chain reads files only: kind's kubeconfig embeds the credentials.
        self._credentials = tempfile.TemporaryDirectory(prefix="faultproxy-")
        cert, key = (Path(self._credentials.name) / name for name in ("cert.pem", "key.pem"))
        cert.write_bytes(_pem(user, "client-certificate"))
        key.write_bytes(_pem(user, "client-key"))
        self.tls.load_cert_chain(cert, key)
        self._lock = threading.Lock()

    # -- scripting --------------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self.faults = list(faults)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.hits(method, path):
                    self.fired[fault.action] += 1
                    return fault
        return None

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for deployctl: the proxy's plain-HTTP loopback address, no user."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "users": [{"name": "anyone", "user": {}}],
            "contexts": [{"name": self.context, "context": {"cluster": "proxy", "user": "anyone"}}],
            "current-context": self.context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # -- serving ----------------------------------------------------------------------

    def start(self) -> FaultProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start(ready))
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    async def _start(self, ready: threading.Event) -> None:
        self._session = ClientSession(
            connector=TCPConnector(ssl=self.tls, limit=64),
            timeout=ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Faults close connections under aiohttp's feet: its complaints are expected.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    def stop(self) -> None:
        async def close() -> None:
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        fault = self._fault_for(request.method, path)
        watch = "watch=true" in request.query_string or request.query.get("watch") == "1"
        if fault is not None:
            if fault.action == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                body = (
                    f'{{"kind":"Status","apiVersion":"v1","status":"Failure",'
                    f'"message":"injected {fault.status}","code":{fault.status}}}'
                )
                return web.Response(
                    status=fault.status, text=body, content_type="application/json", headers=headers
                )
            if fault.action == "reset":
                return _reset(request)
            if fault.action == "delay":
                await asyncio.sleep(fault.seconds)
            if fault.action == "gone" and watch:
                return web.json_response(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": 410,
                        "reason": "Expired",
                        "message": "injected: too old resource version",
                    },
                    status=410,
                )
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}
        }
        headers["Accept-Encoding"] = "identity"
        async with self._session.request(
            request.method, self.upstream + path, data=body or None, headers=headers
        ) as upstream:
            if fault is not None and fault.action == "lose-answer":
                await upstream.read()  # it reached the server and was done there
                return _reset(request)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers[key] = value
            await response.prepare(request)
            loop = asyncio.get_running_loop()
            deadline = None
            if fault is not None and fault.action == "cut-watch" and watch:
                deadline = loop.time() + fault.seconds
            while True:
                wait = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    chunk = await asyncio.wait_for(upstream.content.readany(), wait)
                except TimeoutError:
                    return _reset(request)  # the watch is cut mid-stream
                if not chunk:
                    break
                await response.write(chunk)
            await response.write_eof()
            return response


def _reset(request: web.Request) -> web.Response:
    """Drop the connection without an answer, as a network fault would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)

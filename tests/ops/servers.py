"""Local HTTP servers the ops tests talk to over real sockets: an upstream usage API and a webhook receiver."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Base:
    def __init__(self):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner._handle(self, "GET")

            def do_POST(self):
                owner._handle(self, "POST")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler, method):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = {
            "method": method,
            "path": urlsplit(handler.path).path,
            "query": {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()},
            "headers": dict(handler.headers.items()),
            "body": body,
        }
        with self.lock:
            self.requests.append(request)
        status, payload, delay = self.answer(request)
        if delay:
            time.sleep(delay)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            if 300 <= status < 400:
                handler.send_header("Location", self.url + "/elsewhere")
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (a timeout test)
            pass

    def answer(self, request):
        raise NotImplementedError


class UpstreamUsageApi(_Base):
    """The calling platform's GET /api/v1/usage: its records, newest first, `page_size` per page.

    `script` holds answers for the next requests, in order: an int status, (status, body),
    ("sleep", seconds) or None (the real listing); when empty, the real listing is served.
    Cursors are offsets.
    """

    def __init__(self, key: str = "upstream-key-123"):
        super().__init__()
        self.key = key
        self.records: list[dict] = []
        self.page_size = 1000
        self.script: list = []
        self.repeat_first_page = False

    def answer(self, request):
        if request["path"] != "/api/v1/usage":
            return 404, {"error": {"code": "not_found"}}, 0
        if request["headers"].get("Authorization") != f"Bearer {self.key}":
            return 401, {"error": {"code": "invalid_api_key"}}, 0
        step = self.script.pop(0) if self.script else None
        if step is not None:
            if isinstance(step, int):
                return step, {"error": {"code": "internal_error"}}, 0
            if step[0] == "sleep":
                return 200, {"usage": [], "next_cursor": None}, step[1]
            return step[0], step[1], 0
        start, end = request["query"]["start_date"], request["query"]["end_date"]
        listed = sorted(
            (r for r in self.records if start <= r["created_at"][:10] <= end),
            key=lambda r: r["created_at"],
            reverse=True,
        )
        cursor = request["query"].get("cursor", "0")
        if self.repeat_first_page and cursor == str(self.page_size):
            # A broken upstream: the second page is the first one again, under a new cursor.
            self.repeat_first_page = False
            return 200, {"usage": listed[: self.page_size], "next_cursor": f"r{self.page_size}"}, 0
        offset = int(cursor.lstrip("r"))
        page = listed[offset : offset + self.page_size]
        following = str(offset + self.page_size) if offset + self.page_size < len(listed) else None
        return 200, {"usage": page, "summary": {}, "next_cursor": following}, 0

    def pulls(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/api/v1/usage"]


class WebhookReceiver(_Base):
    """An agency's or client's endpoint: answers `statuses` in turn (then 200) and keeps every request."""

    def __init__(self):
        super().__init__()
        self.statuses: list[int] = []

    def answer(self, request):
        status = self.statuses.pop(0) if self.statuses else 200
        return status, {"ok": status < 300}, 0

    @staticmethod
    def verified(request, secret: str) -> bool:
        """What a receiver does: HMAC-SHA256 of the raw body under its secret, compared in constant time."""
        expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, request["headers"].get("X-Webhook-Signature", ""))

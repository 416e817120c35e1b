"""An HTTP proxy on 127.0.0.1 that hands every reply to a function that may rewrite it.

It plays the part of a server (or a network) that answers as it likes: ``rewrite(method,
path, status, body) -> body`` sees each reply's body (plain: the proxy asks upstream for no
compression) and returns what the client gets. Requests pass unchanged.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Rewrite = Callable[[str, str, int, bytes], bytes]

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "accept-encoding"}


class RewritingProxy:
    """``with RewritingProxy(upstream_url, rewrite) as proxy: … proxy.url …``"""

    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rewrite = rewrite
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    reply = conn.getresponse()
                    data = reply.read()
                    status = reply.status
                    kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in _HOP]
                finally:
                    conn.close()
                data = proxy.rewrite(self.command, self.path.split("?")[0], status, data)
                self.send_response(status)
                for key, value in kept:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RewritingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""The dashboard's web server: the standard library's threading HTTP server on
127.0.0.1, serving the page, its scripts (plotly.js from the installed ``plotly``
package: no CDN, it works offline) and the JSON endpoints of :mod:`.api`.

Routes::

    /                                      the page
    /static/<file>                         app.js, app.css, plotly.min.js
    /api/experiments                       every experiment of the storage
    /api/experiments/<name>?metric=M       one experiment: trials, figures, costs
    /api/experiments/<name>/trials/<n>     one trial: curves, error, logs' tail

The database is only read (a read-only storage: ``mode=ro`` on SQLite, ``READ ONLY``
transactions on PostgreSQL), so it is safe to leave open on a running sweep.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tunehooks._extras import install_command, require
from tunehooks.dashboard.api import DashboardData
from tunehooks.storage.base import StorageError

__all__ = ["DashboardServer", "exposure_warning", "plotly_js", "serve"]

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def plotly_js() -> Path:
    """The plotly.js bundle the installed ``plotly`` package ships."""
    plotly = require("plotly", extra="dashboard", what="the dashboard")
    path = Path(str(plotly.__file__)).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ModuleNotFoundError(
            f"plotly is installed without its plotly.min.js ({path}); reinstall it: "
            + install_command("dashboard", reinstall=True)
        )
    return path


class DashboardServer(ThreadingHTTPServer):
    """A dashboard of the storage at ``url``, listening on ``host:port`` (0: a free port).

    Example:
        >>> import tunehooks as th, tempfile, os, json, urllib.request, threading
        >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "t.db")
        >>> _ = th.Experiment.create("doc-srv", th.SearchSpace({"x": th.Float(0, 1)}),
        ...     metrics=[th.Metric("y", goal="minimize")], budget=th.Budget(trials=1),
        ...     storage=url, method="random")
        >>> server = DashboardServer(url, port=0)
        >>> thread = threading.Thread(target=server.serve_forever, daemon=True)
        >>> thread.start()
        >>> with urllib.request.urlopen(server.address + "api/experiments") as r:
        ...     [e["name"] for e in json.load(r)]
        ['doc-srv']
        >>> server.shutdown(); server.server_close()
    """

    daemon_threads = True

    def __init__(
        self,
        url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        interval: float = 2.0,
        runs_dir: str | os.PathLike[str] = "runs",
        quiet: bool = True,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds (got {interval!r})")
        self.plotly = plotly_js()
        self.data = DashboardData(url, runs_dir=runs_dir)
        self.interval = float(interval)
        self.quiet = quiet
        self.requests = 0
        self._count_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def count(self) -> None:
        with self._count_lock:
            self.requests += 1

    def server_close(self) -> None:
        super().server_close()
        self.data.close()


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self.server.count()
        parsed = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in parsed.path.split("/") if p]
        query = urllib.parse.parse_qs(parsed.query)
        try:
            if not parts or parts == ["index.html"]:
                self._file(STATIC / "index.html")
            elif parts[0] == "static" and len(parts) == 2:
                if parts[1] == "plotly.min.js":
                    self._file(self.server.plotly)
                elif parts[1] in ("app.js", "app.css"):
                    self._file(STATIC / parts[1])
                else:
                    self._json({"error": f"no file {parts[1]!r}"}, HTTPStatus.NOT_FOUND)
            elif parts[:2] == ["api", "config"] and len(parts) == 2:
                self._json({"interval": self.server.interval})
            elif parts[:2] == ["api", "experiments"]:
                self._api(parts[2:], query)
            else:
                self._json({"error": f"no page {parsed.path!r}"}, HTTPStatus.NOT_FOUND)
        except (KeyError, ValueError, StorageError) as e:
            message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            self._json({"error": str(message)}, HTTPStatus.NOT_FOUND)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away

    def _api(self, rest: list[str], query: dict[str, list[str]]) -> None:
        data = self.server.data
        if not rest:
            self._json(data.experiments())
        elif len(rest) == 1:
            metric = query.get("metric", [None])[0] or None
            self._json(data.experiment(rest[0], metric=metric))
        elif len(rest) == 3 and rest[1] == "trials":
            try:
                number = int(rest[2])
            except ValueError:
                raise ValueError(f"trial number: expected an integer (got {rest[2]!r})") from None
            self._json(data.trial(rest[0], number))
        else:
            self._json({"error": "no such endpoint"}, HTTPStatus.NOT_FOUND)

    def _send(self, body: bytes, content_type: str, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(obj, allow_nan=False, default=str).encode("utf-8")
        self._send(body, "application/json", status)

    def _file(self, path: Path) -> None:
        kind = _TYPES.get(path.suffix, "application/octet-stream")
        self._send(path.read_bytes(), f"{kind}; charset=utf-8", HTTPStatus.OK)


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` makes the dashboard reachable from other machines.

    Example:
        >>> exposure_warning("127.0.0.1") is None, exposure_warning("0.0.0.0")[:28]
        (True, 'warning: listening on 0.0.0.')
    """
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return None
    return (
        f"warning: listening on {host}: anyone who can reach this machine can read every "
        "experiment of the storage (read-only, no password); use --host 127.0.0.1 and an "
        "SSH tunnel to keep it private"
    )


def serve(
    url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    interval: float = 2.0,
    runs_dir: str | os.PathLike[str] = "runs",
) -> None:
    """Serve the dashboard of ``url`` until interrupted (Ctrl-C)."""
    from tunehooks._cli_common import shown_url

    server = DashboardServer(url, host=host, port=port, interval=interval, runs_dir=runs_dir)
    warning = exposure_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    print(
        f"tunehooks dashboard of {shown_url(url)} at {server.address} (read-only; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

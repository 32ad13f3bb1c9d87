"""Fixtures for the artifact tests: a zip builder and a local HTTP server (127.0.0.1, port 0)."""

from __future__ import annotations

import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

Entry = tuple[str | zipfile.ZipInfo, bytes]
MakeZip = Callable[..., Path]


@pytest.fixture
def make_zip(tmp_path: Path) -> MakeZip:
    """``make_zip(entries, name="model.zip", compression=ZIP_DEFLATED) -> Path``.

    ``entries`` is a mapping name -> bytes or a sequence of (name | ZipInfo, bytes); duplicates
    are allowed (zipfile's warning about them is silenced).
    """
    counter = iter(range(1_000_000))

    def build(
        entries: Mapping[str, bytes] | Sequence[Entry],
        name: str | None = None,
        compression: int = zipfile.ZIP_DEFLATED,
    ) -> Path:
        items = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
        path = tmp_path / "zips" / (name or f"artifact-{next(counter)}.zip")
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name" on purpose
            with zipfile.ZipFile(path, "w", compression=compression) as zf:
                for member, data in items:
                    zf.writestr(member, data)
        return path

    return build


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # "length": correct Content-Length; "none": no Content-Length, body until close;
    # "short": Content-Length claims `claim` bytes but the body is cut short.
    mode: str = "length"
    claim: int | None = None


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                try:
                    if route is None:
                        self.send_error(404, "Not Found")
                        return
                    self.send_response(route.status)
                    if route.mode == "length":
                        self.send_header("Content-Length", str(len(route.body)))
                    elif route.mode == "short":
                        self.send_header("Content-Length", str(route.claim))
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(route.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up early on purpose (size limits)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.base = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes = b"", **kwargs: object) -> str:
        self.routes[path] = Route(body=body, **kwargs)  # type: ignore[arg-type]
        return self.url(path)


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)

"""A real ``modelnode serve`` process for the e2e suite, and an HTTP artifact host that can stall.

Every process started here is killed again by its fixture (SIGKILL to its own process group), by an
``atexit`` hook should a fixture never get to run its teardown, and on Linux by the kernel when the
test process itself dies (``PR_SET_PDEATHSIG``). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from tests.support import REPO_ROOT

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

_live: set[ServerProcess] = set()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> Any:
    """preexec_fn: SIGKILL the server when the test process dies, however it dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, called after it
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


class ServerProcess:
    """``python -m modelnode serve --backend fake`` on a fixed port and data directory, which can
    be killed (SIGKILL or SIGTERM) and started again on the same port and data directory."""

    def __init__(self, data_dir: Path, repository: str, log_path: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.repository = repository
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._http: httpx.Client | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ServerProcess:
        assert self.proc is None, "already running"
        env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
        env.update(NO_PROXY=f"{HOST},localhost", no_proxy=f"{HOST},localhost", PYTHONUNBUFFERED="1")
        cmd = [
            sys.executable,
            "-m",
            "modelnode",
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--model-repository",
            self.repository,
            "--backend",
            "fake",
        ]
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        _live.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(trust_env=False, timeout=2.0) as probe:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"modelnode exited with code {self.proc.returncode} before answering GET /\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if probe.get(self.url + "/").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"modelnode did not answer GET / within {START_TIMEOUT_S}s\n{self.log_tail()}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group (nothing gets to clean up) and reap it."""
        self._close_http()
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc is None:
            return
        if proc.poll() is None:  # never signal a reaped pid: it may belong to someone else by now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the group is ours alone
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        proc.wait(timeout=10)

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM and wait for the exit; returns (exit code, seconds it took). On a timeout the
        process is SIGKILLed and ``subprocess.TimeoutExpired`` propagates."""
        assert self.proc is not None
        self._close_http()
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        elapsed = time.monotonic() - start
        self.kill()  # already reaped: only clears the bookkeeping
        return code, elapsed

    def restart(self) -> ServerProcess:
        self.kill()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- talking to it --------------------------------------------------------------------------
    @property
    def http(self) -> httpx.Client:
        """A plain HTTP client for the current process (a fresh one after every restart)."""
        assert self.proc is not None, "server is not running"
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, trust_env=False, timeout=30.0)
        return self._http

    def _close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_live):
        server.kill()


# -- an artifact host that can stall ------------------------------------------------------------
class ArtifactHost:
    """Serves a repository folder (the official layout) over HTTP on 127.0.0.1. While ``stall`` is
    set, a zip download sends its headers and half its body, then waits until ``release()``: a
    register task stays in flight for as long as a test needs."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.stall = threading.Event()
        self.zip_requested = threading.Event()
        self._released = threading.Event()
        self.requests: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host.requests.append(self.path)
                path = host._resolve(self.path)
                if path is None:
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if path.suffix == ".zip" and host.stall.is_set():
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        host.zip_requested.set()
                        host._released.wait(timeout=120)
                        self.wfile.write(data[len(data) // 2 :])
                    else:
                        if path.suffix == ".zip":
                            host.zip_requested.set()
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the modelnode process was killed mid-download: expected

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a killed client is part of the test, not an error to print

        self._server = Server((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="artifact-host", daemon=True)

    def _resolve(self, raw_path: str) -> Path | None:
        rel = unquote(urlsplit(raw_path).path).lstrip("/")
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> ArtifactHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ServerFactory:
    """Makes (unstarted) servers under one folder, e.g. on another model repository; the fixture
    that owns it kills them all at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[ServerProcess] = []

    def __call__(self, repository: str, name: str = "server") -> ServerProcess:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(folder / "data", repository, folder / "modelnode.log")
        self.made.append(server)
        return server

    def kill_all(self) -> None:
        for server in self.made:
            server.kill()

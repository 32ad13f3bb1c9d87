"""Streaming download with SHA-256 verification, a size limit, and atomic completion.

Sources: ``http(s)://`` (urllib), ``file://`` URLs and plain filesystem paths. The bytes go to a
uniquely named ``<final>.<random>.partial`` file in ``dest_dir`` while being hashed; only when the
whole body arrived, matched ``Content-Length`` and the expected hash is the file fsync'ed and
renamed (atomically) to its final name. On any failure the partial file is deleted, so a file
with the final name is always complete and verified. A ``*.partial`` left by a crash is never
read again (each download writes a fresh one); ``clean_partials`` removes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from modelnode.artifacts._fs import check_sha256, fsync_dir, human_bytes
from modelnode.errors import ArtifactError

log = logging.getLogger("modelnode.artifacts")

# ML Commons refuses artifacts of 4 GB and more; same default as Settings.max_artifact_bytes.
DEFAULT_MAX_BYTES = 4 * 1024**3
DEFAULT_TIMEOUT = 60.0
PARTIAL_SUFFIX = ".partial"
CHUNK_SIZE = 1024 * 1024
# Log progress every 10 % of a known size, but not more often than every 8 MiB.
_LOG_STEP_MIN = 8 * 1024 * 1024

Progress = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes_or_None)``; may raise to cancel the download."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def download(
    url: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    expected_sha256: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    filename: str | None = None,
) -> tuple[Path, str]:
    """Fetch ``url`` into ``dest_dir``; return ``(final_path, sha256_hex)``.

    ``expected_sha256=None`` skips the comparison (the caller gets the hash to check or store);
    otherwise a mismatch raises "model content changed" naming both hashes. ``filename`` overrides
    the final name (default: the last segment of the URL). ``progress`` is called after every
    chunk; an exception it raises aborts the download (the partial file is removed) and
    propagates unchanged. Every other failure raises ``ArtifactError`` naming the URL.
    """
    source = os.fspath(url)
    expected = check_sha256(expected_sha256) if expected_sha256 is not None else None
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    dest = Path(dest_dir)
    name = _final_name(source, filename)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(f"cannot create download directory {dest}: {exc.strerror or exc}") from exc

    with _open_source(source, timeout) as (stream, total):
        if total is not None and total > max_bytes:
            raise ArtifactError(_too_large(source, max_bytes, f"it announces {total} bytes"))
        try:
            fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f"{name}.", suffix=PARTIAL_SUFFIX)
        except OSError as exc:
            raise ArtifactError(f"cannot write into download directory {dest}: {exc.strerror or exc}") from exc
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                actual = _stream(source, stream, out, total, max_bytes, progress)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and actual != expected:
                raise ArtifactError(
                    f"model content changed: the SHA-256 of {source} is {actual} but {expected} was "
                    "expected; the artifact differs from the one registered (re-publish the hash or "
                    "fix the file)"
                )
            final = dest / name
            os.replace(tmp, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError):  # local write/fsync/rename (reads are wrapped in _read)
                raise ArtifactError(
                    f"cannot save the download of {source} in {dest}: {exc.strerror or exc}; check free "
                    "disk space and permissions"
                ) from exc
            raise
    fsync_dir(dest)
    return final, actual


def clean_partials(directory: str | os.PathLike[str], *, older_than_s: float = 0.0) -> int:
    """Delete ``*.partial`` files (left by crashed downloads) directly in ``directory``.

    Returns how many were removed. With the default ``older_than_s=0`` every partial goes, so
    call it at start-up; while downloads may be running, pass an age that no download lasts.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for entry in folder.iterdir():
        if not entry.name.endswith(PARTIAL_SUFFIX):
            continue
        try:
            if not entry.is_file() or entry.is_symlink() or entry.stat().st_mtime > cutoff:
                continue
            entry.unlink()
        except OSError:
            continue
        removed += 1
        log.info("removed leftover partial download %s", entry)
    return removed


def read_bytes(url: str, *, max_bytes: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """A small resource (config.json) into memory, with the same sources and errors as ``download``."""
    with _open_source(url, timeout) as (stream, total):
        if total is not None and total > max_bytes:
            raise ArtifactError(_too_large(url, max_bytes, f"it announces {total} bytes"))
        chunks: list[bytes] = []
        done = 0
        while True:
            chunk = _read(url, stream, min(CHUNK_SIZE, max_bytes + 1 - done))
            if not chunk:
                break
            done += len(chunk)
            if done > max_bytes:
                raise ArtifactError(_too_large(url, max_bytes, "the body is larger"))
            chunks.append(chunk)
    if total is not None and done != total:
        raise ArtifactError(_short(url, done, total))
    return b"".join(chunks)


# --- internals ----------------------------------------------------------------------------------


def _stream(
    url: str,
    stream: BinaryIO,
    out: BinaryIO,
    total: int | None,
    max_bytes: int,
    progress: Progress | None,
) -> str:
    digest = hashlib.sha256()
    done = 0
    step = max(total // 10, _LOG_STEP_MIN) if total else _LOG_STEP_MIN
    next_log = step
    log.info("downloading %s (%s)", url, human_bytes(total))
    while True:
        # Read at most one byte past the limit: enough to know it was exceeded.
        chunk = _read(url, stream, min(CHUNK_SIZE, max_bytes + 1 - done))
        if not chunk:
            break
        done += len(chunk)
        if done > max_bytes:
            raise ArtifactError(_too_large(url, max_bytes, f"more than {max_bytes} bytes arrived"))
        digest.update(chunk)
        out.write(chunk)
        if done >= next_log:
            _log_progress(url, done, total)
            next_log = done + step
        if progress is not None:
            progress(done, total)
    if total is not None and done != total:
        raise ArtifactError(_short(url, done, total))
    _log_progress(url, done, total)
    if progress is not None and done == 0:
        progress(done, total)
    return digest.hexdigest()


def _log_progress(url: str, done: int, total: int | None) -> None:
    if total:
        log.info("downloading %s: %s of %s (%d%%)", url, human_bytes(done), human_bytes(total), done * 100 // total)
    else:
        log.info("downloading %s: %s", url, human_bytes(done))


def _read(url: str, stream: BinaryIO, n: int) -> bytes:
    try:
        return stream.read(n)
    except TimeoutError as exc:
        raise ArtifactError(f"download of {url} timed out while reading; try again later") from exc
    except OSError as exc:
        raise ArtifactError(f"download of {url} failed while reading: {exc}; try again") from exc
    except Exception as exc:
        import http.client  # already loaded whenever the stream is an HTTP response

        if isinstance(exc, http.client.HTTPException):
            raise ArtifactError(f"download of {url} failed while reading: {exc!r}; try again") from exc
        raise


def _too_large(url: str, max_bytes: int, detail: str) -> str:
    return (
        f"the artifact at {url} is larger than the limit of {max_bytes} bytes ({detail}); "
        "use a smaller model or raise the artifact size limit (max_artifact_bytes)"
    )


def _short(url: str, done: int, total: int) -> str:
    return (
        f"download of {url} is incomplete: received {done} bytes but {total} were announced "
        "(Content-Length or file size); the connection closed early or the file changed, try again"
    )


def _final_name(source: str, filename: str | None) -> str:
    if filename is not None:
        if not _SAFE_NAME.match(filename):
            raise ValueError(f"unsafe file name {filename!r}")
        return filename
    parsed = urlparse(source)
    path = parsed.path if parsed.scheme.lower() in ("http", "https", "file") else source
    base = unquote(path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])
    return base if _SAFE_NAME.match(base) else "download"


@contextlib.contextmanager
def _open_source(url: str, timeout: float) -> Iterator[tuple[BinaryIO, int | None]]:
    """Yield ``(stream, size_or_None)`` for http(s)://, file:// or a plain path."""
    scheme = urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        with _open_http(url, timeout) as opened:
            yield opened
    elif scheme == "file" or scheme == "" or len(scheme) == 1:  # len 1: a Windows drive letter
        with _open_file(url) as opened:
            yield opened
    else:
        raise ArtifactError(
            f"unsupported model repository URL {url!r}: use http(s)://, file:// or a local directory path"
        )


@contextlib.contextmanager
def _open_http(url: str, timeout: float) -> Iterator[tuple[BinaryIO, int | None]]:
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "modelnode", "Accept-Encoding": "identity"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            raise ArtifactError(
                f"{url} was not found (HTTP 404); check the model name, version and model_format, "
                "or the model repository setting"
            ) from None
        raise ArtifactError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ArtifactError(
            f"could not reach {url}: {exc.reason}; check network access to the model repository "
            "or point the repository at a local directory"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ArtifactError(f"could not reach {url}: {exc!r}; try again later") from None
    with response:
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise ArtifactError(
                f"{url} was served with Content-Encoding {encoding!r}; the artifact host must serve the raw bytes"
            )
        yield response, _content_length(response.headers.get("Content-Length"))


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        length = int(value.strip())
    except ValueError:
        return None
    return length if length >= 0 else None


@contextlib.contextmanager
def _open_file(url: str) -> Iterator[tuple[BinaryIO, int | None]]:
    path = _local_path(url)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise ArtifactError(
            f"{url} was not found; check the model name, version and model_format, or the model repository directory"
        ) from None
    except IsADirectoryError:
        raise ArtifactError(f"{url} is a directory, not a file") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read {url}: {exc.strerror or exc}") from None
    with handle:
        try:
            size = os.fstat(handle.fileno()).st_size
        except OSError:  # pragma: no cover - fstat on an open file does not fail in practice
            size = None
        yield handle, size


def _local_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme.lower() != "file":
        return Path(url).expanduser()
    if parsed.netloc not in ("", "localhost"):
        raise ArtifactError(f"{url}: file:// URLs must name a local path (file:///path), not a host")
    from urllib.request import url2pathname

    return Path(url2pathname(parsed.path))

"""download / clean_partials against a local HTTP server, file:// URLs and plain paths."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from pathlib import Path

import pytest

from modelnode.artifacts import clean_partials, download
from modelnode.errors import ArtifactError

BODY = os.urandom(2 * 1024 * 1024 + 12345)  # three 1 MiB chunks
BODY_SHA = hashlib.sha256(BODY).hexdigest()
WRONG_SHA = "0" * 64


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- http(s) -----------------------------------------------------------------------------------


def test_http_success_with_progress_and_logs(http_server, tmp_path: Path, caplog) -> None:
    url = http_server.add("/m/model.zip", BODY)
    calls: list[tuple[int, int | None]] = []
    with caplog.at_level(logging.INFO, logger="modelnode.artifacts"):
        path, sha = download(url, tmp_path / "dl", expected_sha256=BODY_SHA, progress=lambda d, t: calls.append((d, t)))
    assert path == tmp_path / "dl" / "model.zip"
    assert sha == BODY_SHA
    assert path.read_bytes() == BODY
    assert _listing(tmp_path / "dl") == ["model.zip"]  # no partial left behind
    assert len(calls) >= 3
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (len(BODY), len(BODY))
    assert all(t == len(BODY) for _, t in calls)
    messages = [r.getMessage() for r in caplog.records if r.name == "modelnode.artifacts"]
    assert any("(100%)" in m and url in m for m in messages)


def test_http_without_hash_returns_the_hash(http_server, tmp_path: Path) -> None:
    url = http_server.add("/x.zip", b"hello")
    path, sha = download(url, tmp_path, expected_sha256=None, filename="renamed.zip")
    assert path.name == "renamed.zip"
    assert sha == hashlib.sha256(b"hello").hexdigest()


def test_http_404_names_the_url(http_server, tmp_path: Path) -> None:
    url = http_server.url("/missing/model.zip")
    with pytest.raises(ArtifactError, match=rf"{url} was not found \(HTTP 404\)"):
        download(url, tmp_path, expected_sha256=BODY_SHA)
    assert _listing(tmp_path) == []


def test_http_server_error(http_server, tmp_path: Path) -> None:
    url = http_server.add("/boom.zip", b"oops", status=503)
    with pytest.raises(ArtifactError, match=rf"could not download {url}: HTTP 503"):
        download(url, tmp_path, expected_sha256=None)


def test_unreachable_host(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/model.zip"
    with pytest.raises(ArtifactError, match=rf"could not reach {url}"):
        download(url, tmp_path, expected_sha256=None, timeout=5)
    assert _listing(tmp_path) == []


def test_wrong_hash_leaves_no_file(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY)
    with pytest.raises(ArtifactError, match=f"model content changed: .*{BODY_SHA} but {WRONG_SHA}"):
        download(url, tmp_path, expected_sha256=WRONG_SHA)
    assert _listing(tmp_path) == []


def test_size_limit_from_content_length(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY)
    calls: list[int] = []
    with pytest.raises(ArtifactError, match=rf"larger than the limit of 1000 bytes \(it announces {len(BODY)}"):
        download(url, tmp_path, expected_sha256=None, max_bytes=1000, progress=lambda d, t: calls.append(d))
    assert calls == []  # refused before reading the body
    assert _listing(tmp_path) == []


def test_size_limit_while_streaming_without_content_length(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY, mode="none")
    calls: list[tuple[int, int | None]] = []
    with pytest.raises(ArtifactError, match=r"larger than the limit of 1500000 bytes \(more than 1500000"):
        download(
            url,
            tmp_path,
            expected_sha256=None,
            max_bytes=1_500_000,
            progress=lambda d, t: calls.append((d, t)),
        )
    assert calls and all(t is None for _, t in calls)
    assert max(d for d, _ in calls) <= 1_500_000  # aborted as soon as the limit was crossed
    assert _listing(tmp_path) == []


def test_no_content_length_is_fine_within_the_limit(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY, mode="none")
    path, sha = download(url, tmp_path, expected_sha256=BODY_SHA)
    assert sha == BODY_SHA and path.stat().st_size == len(BODY)


def test_short_read_content_length_lies_bigger(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY[:1000], mode="short", claim=5000)
    with pytest.raises(ArtifactError, match=r"is incomplete: received 1000 bytes but 5000 were announced"):
        download(url, tmp_path, expected_sha256=None)
    assert _listing(tmp_path) == []


def test_content_length_lies_smaller_is_caught_by_the_hash(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY, mode="short", claim=100)
    with pytest.raises(ArtifactError, match="model content changed"):
        download(url, tmp_path, expected_sha256=BODY_SHA)
    assert _listing(tmp_path) == []


def test_compressed_response_is_refused(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", b"\x1f\x8b...", headers={"Content-Encoding": "gzip"})
    with pytest.raises(ArtifactError, match="Content-Encoding 'gzip'"):
        download(url, tmp_path, expected_sha256=None)
    assert _listing(tmp_path) == []


def test_crash_mid_stream_leaves_nothing(http_server, tmp_path: Path) -> None:
    url = http_server.add("/model.zip", BODY)
    seen: list[Path] = []

    def explode(done: int, total: int | None) -> None:
        seen.extend(tmp_path.iterdir())  # the partial file exists while streaming ...
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        download(url, tmp_path, expected_sha256=BODY_SHA, progress=explode)
    assert [p.name for p in seen if p.name.endswith(".partial")]
    assert _listing(tmp_path) == []  # ... and is gone afterwards; no final file either


def test_a_crashed_partial_is_never_reused_and_is_cleaned(http_server, tmp_path: Path) -> None:
    # What a killed process leaves: a partial with garbage under the name a download would use.
    stale = tmp_path / "model.zip.abc123.partial"
    stale.write_bytes(b"garbage from a crashed download")
    url = http_server.add("/model.zip", BODY)
    path, _ = download(url, tmp_path, expected_sha256=BODY_SHA)
    assert path.read_bytes() == BODY
    assert stale.read_bytes() == b"garbage from a crashed download"  # untouched, not trusted
    # a recent partial survives an age filter; an unconditional clean removes it
    assert clean_partials(tmp_path, older_than_s=3600) == 0
    assert clean_partials(tmp_path) == 1
    assert _listing(tmp_path) == ["model.zip"]
    assert clean_partials(tmp_path / "does-not-exist") == 0


def test_clean_partials_age_filter(tmp_path: Path) -> None:
    old = tmp_path / "a.zip.x.partial"
    new = tmp_path / "b.zip.y.partial"
    keep = tmp_path / "c.zip"
    for p in (old, new, keep):
        p.write_bytes(b"x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert clean_partials(tmp_path, older_than_s=3600) == 1
    assert _listing(tmp_path) == ["b.zip.y.partial", "c.zip"]


# --- file:// and plain paths -------------------------------------------------------------------


def test_file_url_and_plain_path(tmp_path: Path) -> None:
    src = tmp_path / "repo" / "my model.zip"
    src.parent.mkdir()
    src.write_bytes(BODY)
    calls: list[tuple[int, int | None]] = []
    path, sha = download(
        src.as_uri(), tmp_path / "a", expected_sha256=BODY_SHA, progress=lambda d, t: calls.append((d, t))
    )
    assert sha == BODY_SHA and path.read_bytes() == BODY
    assert path.name == "download"  # "my model.zip" has a space: not a safe file name, so a fallback
    assert calls[-1] == (len(BODY), len(BODY))
    path2, sha2 = download(str(src), tmp_path / "b", expected_sha256=BODY_SHA, filename="model.zip")
    assert sha2 == BODY_SHA and path2 == tmp_path / "b" / "model.zip"


def test_file_url_missing(tmp_path: Path) -> None:
    url = (tmp_path / "nope.zip").as_uri()
    with pytest.raises(ArtifactError, match=rf"{url} was not found"):
        download(url, tmp_path / "dl", expected_sha256=None)
    with pytest.raises(ArtifactError, match="was not found"):
        download(str(tmp_path / "nope.zip"), tmp_path / "dl", expected_sha256=None)
    assert _listing(tmp_path / "dl") == []


def test_file_source_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="is a directory"):
        download(str(tmp_path), tmp_path / "dl", expected_sha256=None)


def test_file_size_limit_and_wrong_hash(tmp_path: Path) -> None:
    src = tmp_path / "model.zip"
    src.write_bytes(BODY)
    with pytest.raises(ArtifactError, match=r"larger than the limit of 10 bytes"):
        download(src.as_uri(), tmp_path / "dl", expected_sha256=None, max_bytes=10)
    with pytest.raises(ArtifactError, match="model content changed"):
        download(src.as_uri(), tmp_path / "dl", expected_sha256=WRONG_SHA)
    assert _listing(tmp_path / "dl") == []


def test_file_url_with_a_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="must name a local path"):
        download("file://example.com/x.zip", tmp_path, expected_sha256=None)


def test_unsupported_scheme_and_bad_hash(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="unsupported model repository URL 'ftp://"):
        download("ftp://example.com/x.zip", tmp_path, expected_sha256=None)
    with pytest.raises(ArtifactError, match="must be a SHA-256 hex digest"):
        download("ftp://example.com/x.zip", tmp_path, expected_sha256="abc")

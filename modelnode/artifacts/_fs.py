"""Small filesystem and hashing helpers shared by download, verify and store."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from modelnode.errors import ArtifactError

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def check_sha256(value: object, *, what: str = "model_content_hash_value") -> str:
    """``value`` as a lower-case SHA-256 hex digest, or ArtifactError.

    Also used before a hash becomes a directory name, so nothing but 64 hex digits passes.
    """
    text = value.strip().lower() if isinstance(value, str) else ""
    if not _SHA256_RE.match(text):
        raise ArtifactError(
            f"{what} must be a SHA-256 hex digest (64 hexadecimal characters), got {value!r}; "
            "compute it with `sha256sum <file>.zip`"
        )
    return text


def is_sha256(value: str) -> bool:
    """True for exactly 64 lower-case hex digits (a store key)."""
    return bool(_SHA256_RE.match(value))


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a file, streamed (artifacts can be 4 GB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename/creation inside ``path`` durable (best effort where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - loop always returns

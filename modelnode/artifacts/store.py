"""Content-addressed store of verified, unpacked model artifacts.

Layout under ``root``::

    <sha256>/                   a complete artifact: the zip's content root, unpacked
        artifact.json           manifest, written last (see MANIFEST_NAME)
        tokenizer.json, model.pt | model.onnx, ...
    .tmp-<sha12>-<random>/      an add() in progress (or killed): never trusted, swept
    .trash-<sha12>-<random>/    a remove() in progress (or killed): swept
    .incoming/                  optional download area on the same filesystem (``incoming_dir``)

An entry becomes visible only by an atomic rename of a fully written, fsync'ed temp folder whose
manifest was written last, so ``<sha256>/`` is either absent or complete; ``get`` still checks
the manifest and the listed files, and treats anything else as absent. The zip itself is not
kept. Unpacked files get default permissions (modes from the zip are ignored: nothing is made
executable).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

from modelnode.artifacts._fs import check_sha256, fsync_dir, is_sha256, sha256_file
from modelnode.artifacts.download import DEFAULT_MAX_BYTES, clean_partials
from modelnode.artifacts.verify import ZipSummary, open_member_error, verify_zip
from modelnode.catalog import FunctionName, ModelFormat
from modelnode.errors import ArtifactError

log = logging.getLogger("modelnode.artifacts")

MANIFEST_NAME = "artifact.json"
MANIFEST_VERSION = 1
_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"
_INCOMING = ".incoming"
_COPY_CHUNK = 1024 * 1024


class ArtifactStore:
    """Verified artifacts keyed by the SHA-256 of their zip. Thread- and process-safe for
    concurrent ``add`` of the same or different hashes (the last rename loses and reuses the
    winner's entry). Call ``sweep()`` at start-up."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot create the artifact store at {self.root}: {exc.strerror or exc}") from exc

    @property
    def incoming_dir(self) -> Path:
        """A download folder on the store's filesystem (created on demand, partials swept)."""
        path = self.root / _INCOMING
        path.mkdir(exist_ok=True)
        return path

    def path_for(self, sha256: str) -> Path:
        return self.root / check_sha256(sha256)

    # --- queries -----------------------------------------------------------------------------

    def get(self, sha256: str) -> Path | None:
        """The unpacked artifact folder, only if it is complete (manifest present, valid, matching
        and every listed file present with its size)."""
        path = self.path_for(sha256)
        return path if self._complete(path, path.name) is not None else None

    def manifest(self, sha256: str) -> dict[str, Any] | None:
        """The manifest of a complete entry, else None."""
        path = self.path_for(sha256)
        return self._complete(path, path.name)

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and self.get(sha256) is not None

    # --- changes -----------------------------------------------------------------------------

    def add(
        self,
        zip_path: str | os.PathLike[str],
        sha256: str,
        *,
        model_format: ModelFormat | str,
        function_name: FunctionName | str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_uncompressed_bytes: int | None = None,
    ) -> Path:
        """Verify the zip, unpack it atomically as ``root/<sha256>/`` and return that folder.

        The zip's SHA-256 is recomputed and must equal ``sha256`` ("model content changed"
        otherwise). Idempotent: if a complete entry exists it is returned (after the zip passed
        the checks for this ``model_format``/``function_name``). The zip is left in place.
        """
        digest = check_sha256(sha256)
        source = Path(zip_path)
        summary = verify_zip(
            source,
            model_format=model_format,
            function_name=function_name,
            max_bytes=max_bytes,
            max_uncompressed_bytes=max_uncompressed_bytes,
            check_crc=False,  # unpacking below decompresses every member and checks its CRC
        )
        actual = _sha256_file(source)
        if actual != digest:
            raise ArtifactError(
                f"model content changed: the SHA-256 of {source.name} is {actual} but {digest} was expected"
            )
        if any(m.path.casefold() == MANIFEST_NAME for m in summary.files):
            raise ArtifactError(
                f"the zip contains a top-level {MANIFEST_NAME}, a name this store reserves for its "
                "manifest; rename that file"
            )
        final = self.root / digest
        existing = self.get(digest)
        if existing is not None:
            return existing

        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{digest[:12]}-", dir=self.root))
        try:
            self._unpack(summary, tmp)
            manifest = _manifest(summary, digest)
            _write_json(tmp / MANIFEST_NAME, manifest)
            fsync_dir(tmp)
            self._publish(tmp, final, digest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(self.root)
        log.info(
            "stored artifact %s (%d files, %d bytes unpacked)",
            digest,
            len(summary.files),
            summary.uncompressed_size,
        )
        return final

    def remove(self, sha256: str) -> bool:
        """Delete an entry (complete or not). Returns whether anything was there."""
        path = self.path_for(sha256)
        if not path.exists():
            return False
        self._discard(path)
        return True

    def sweep(self, *, older_than_s: float = 0.0) -> list[str]:
        """Remove leftovers: temp and trash folders, ``<sha256>`` folders that are not complete,
        and partial downloads in ``incoming_dir``. Returns the names removed. With the default
        ``older_than_s=0`` an add() running right now would lose its temp folder: call it at
        start-up, or pass an age no add() lasts."""
        removed: list[str] = []
        cutoff = time.time() - older_than_s
        for entry in sorted(self.root.iterdir()):
            name = entry.name
            try:
                if entry.is_symlink() or not entry.is_dir() or entry.stat().st_mtime > cutoff:
                    continue
            except OSError:
                continue
            if name.startswith((_TMP_PREFIX, _TRASH_PREFIX)):
                shutil.rmtree(entry, ignore_errors=True)
            elif is_sha256(name) and self._complete(entry, name) is None:
                self._discard(entry)
            else:
                continue
            removed.append(name)
            log.info("artifact store: removed leftover %s", entry)
        incoming = self.root / _INCOMING
        if incoming.is_dir():
            clean_partials(incoming, older_than_s=older_than_s)
        return removed

    # --- internals ---------------------------------------------------------------------------

    def _complete(self, path: Path, digest: str) -> dict[str, Any] | None:
        try:
            if path.is_symlink() or not path.is_dir():
                return None
            manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("sha256") != digest:
            return None
        files = manifest.get("files")
        if not isinstance(files, list):
            return None
        for item in files:
            try:
                file_path = path / item["path"]
                if file_path.is_symlink() or file_path.stat().st_size != item["size"]:
                    return None
            except (OSError, KeyError, TypeError):
                return None
        return manifest

    def _unpack(self, summary: ZipSummary, dest: Path) -> None:
        with zipfile.ZipFile(summary.path) as zf:
            for member in summary.files:
                target = dest.joinpath(*member.path.split("/"))
                # verify_zip refused absolute and '..' names; keep the guarantee local as well.
                if not target.resolve().is_relative_to(dest.resolve()):
                    raise ArtifactError(f"model zip entry {member.name!r} escapes the artifact folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                try:
                    with zf.open(member.name) as src, open(target, "xb") as out:
                        while chunk := src.read(_COPY_CHUNK):
                            written += len(chunk)
                            if written > member.size:  # zipfile caps at the declared size; belt and braces
                                raise ArtifactError(f"model zip entry {member.name!r} is larger than it declares")
                            out.write(chunk)
                        out.flush()
                        os.fsync(out.fileno())
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                    raise open_member_error(member.name, exc) from None
                except ArtifactError:
                    raise
                except OSError as exc:
                    raise ArtifactError(
                        f"cannot unpack {member.name!r} into the artifact store: {exc.strerror or exc}"
                    ) from None
                if written != member.size:
                    raise open_member_error(member.name, EOFError(f"{written} of {member.size} bytes"))
        for folder in sorted({p for p in dest.rglob("*") if p.is_dir()}, reverse=True):
            fsync_dir(folder)

    def _publish(self, tmp: Path, final: Path, digest: str) -> None:
        for _ in range(2):
            try:
                os.rename(tmp, final)  # atomic; replaces only an empty folder
                return
            except OSError:
                if self._complete(final, digest) is not None:
                    # Another add() of the same content won the race: use its entry.
                    shutil.rmtree(tmp, ignore_errors=True)
                    return
                if final.exists():
                    self._discard(final)  # an incomplete leftover in the way
                    continue
                raise
        raise ArtifactError(f"could not publish artifact {digest} in {self.root}; try again")

    def _discard(self, path: Path) -> None:
        trash = self.root / f"{_TRASH_PREFIX}{path.name[:12]}-{os.urandom(6).hex()}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = path
        shutil.rmtree(trash, ignore_errors=True)


def _manifest(summary: ZipSummary, digest: str) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "sha256": digest,
        "model_format": summary.model_format.value,
        "function_name": summary.function_name.value,
        "model_file": summary.model_file,
        "tokenizer_file": summary.tokenizer_file,
        "files": [{"path": m.path, "size": m.size} for m in summary.files],
        "model_content_size_in_bytes": summary.zip_size,
        "unpacked_size_in_bytes": summary.uncompressed_size,
        "created_time": int(time.time() * 1000),
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with open(path, "x", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())


def _sha256_file(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise ArtifactError(f"cannot read model zip {path}: {exc.strerror or exc}") from None

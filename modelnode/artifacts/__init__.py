"""Model artifacts: fetch (http(s)://, file://, plain directory), SHA-256 verification, safe unzip
into a content-addressed store, and building artifacts from Hugging Face folders.

Contract used by ``services`` (all blocking; services run them in worker threads):
  ``ModelRepository(root, *, max_bytes=4 GiB, timeout=60)``   ML Commons' layout under ``root``
      ``.config_url(name, version, fmt)`` / ``.zip_url(...)``  (``artifact_stem`` names the zip)
      ``.fetch_config(name, version, fmt) -> dict``
      ``.fetch_zip(name, version, fmt, dest_dir, *, expected_sha256, progress=None) -> Path``
  ``download(url, dest_dir, *, expected_sha256, max_bytes, progress, timeout, filename)
        -> (Path, sha256)``       streamed to a unique ``*.partial``, hashed, fsync'ed, renamed
  ``clean_partials(dir, *, older_than_s=0) -> int``            removes crashed downloads' leftovers
  ``verify_zip(path, *, model_format, function_name, max_bytes, ...) -> ZipSummary``
        ML Commons' zip rules plus archive safety; see ``verify`` for the full list and for the
        content-root rule (tokenizer.json and the model file at the top, or inside one folder)
  ``ArtifactStore(root)``                         verified, unpacked artifacts keyed by SHA-256
      ``.add(zip_path, sha256, *, model_format, function_name, max_bytes) -> Path``
            verifies, recomputes the hash, unpacks into a temp folder, writes ``artifact.json``
            last, renames atomically to ``root/<sha256>/``; idempotent
      ``.get(sha256) -> Path | None`` (complete entries only)  ``.manifest(sha256) -> dict | None``
      ``.remove(sha256) -> bool``  ``.sweep() -> list[str]`` (start-up: temp/trash/incomplete)
      ``.incoming_dir``  a download folder on the store's filesystem
An unpacked artifact folder has ``tokenizer.json`` and the single ``.pt``/``.onnx`` (none for
SPARSE_TOKENIZE) at its top level, plus ``artifact.json``: ``{sha256, model_format,
function_name, model_file, tokenizer_file, files: [{path, size}], model_content_size_in_bytes,
unpacked_size_in_bytes, created_time, manifest_version}``.
Every failure raises ``errors.ArtifactError`` with a message fit for a task's ``error`` field.
Progress is logged on the ``modelnode.artifacts`` logger.

Artifact building lives in ``modelnode.artifacts.build`` and is not imported here (it needs torch);
importing this package stays cheap (standard library only).
"""

from __future__ import annotations

from modelnode.artifacts._fs import is_sha256, sha256_file
from modelnode.artifacts.download import clean_partials, download
from modelnode.artifacts.repository import ModelRepository, artifact_stem
from modelnode.artifacts.store import ArtifactStore
from modelnode.artifacts.verify import ZipMember, ZipSummary, verify_zip

__all__ = [
    "ArtifactStore",
    "ModelRepository",
    "ZipMember",
    "ZipSummary",
    "artifact_stem",
    "clean_partials",
    "download",
    "is_sha256",
    "sha256_file",
    "verify_zip",
]

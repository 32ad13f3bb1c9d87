"""Model artifacts: fetch (http(s)://, file://, plain directory), SHA-256 verification, safe unzip
into a content-addressed store, and building artifacts from Hugging Face folders.

Contract used by ``services`` (all blocking; services run them in worker threads):
  ``ModelRepository(root)``                      the official layout under ``root``
      ``.config_url(name, version, fmt)`` / ``.zip_url(...)``
      ``.fetch_config(name, version, fmt) -> dict``
      ``.fetch_zip(name, version, fmt, dest_dir, expected_sha256, progress) -> Path``
  ``download(url, dest_dir, *, expected_sha256, max_bytes, progress) -> (Path, sha256)``
  ``ArtifactStore(root)``                         verified, unpacked artifacts keyed by SHA-256
      ``.add(zip_path, sha256, model_format=, function_name=) -> Path`` (verifies, unpacks atomically)
      ``.get(sha256) -> Path | None``  ``.remove(sha256)``
Every failure raises ``errors.ArtifactError`` with a message fit for a task's ``error`` field.
"""

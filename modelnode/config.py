"""Settings: frozen and typed. Only ``__main__`` builds them from argv/environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# ML Commons downloads pretrained artifacts from here (MLEngine's repo root).
OFFICIAL_MODEL_REPOSITORY = "https://artifacts.opensearch.org/models/ml-models"

# OpenSearch's default http.max_content_length.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("modelnode", appauthor=False))


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 9200
    model_repository: str = OFFICIAL_MODEL_REPOSITORY
    # "auto" picks onnxruntime or torch by model_format; "fake" is the deterministic test backend
    # that runs the real tokenizer, pooling and post-processing around a hash-based "network".
    inference_backend: Literal["auto", "fake"] = "auto"
    device: str = "cpu"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Largest artifact zip accepted (ML Commons: 4 GB).
    max_artifact_bytes: int = 4 * 1024**3
    cluster_name: str = "modelnode"
    node_name: str = "modelnode-0"
    # Redeploy models that were DEPLOYED at shutdown, unless the cluster setting says otherwise.
    redeploy_on_start: bool = True

    @property
    def db_path(self) -> Path:
        return self.data_dir / "modelnode.sqlite3"

    @property
    def artifact_dir(self) -> Path:
        return self.data_dir / "artifacts"

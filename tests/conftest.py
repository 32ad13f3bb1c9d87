from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelnode.api import build_app
from modelnode.config import Settings
from tests.support import SHARED, build_fake_repository

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_report_header() -> str:
    return f"shared data: {SHARED} ({'found' if SHARED.exists() else 'MISSING'})"


@pytest.fixture(scope="session")
def fake_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_repository(tmp_path_factory.mktemp("fake-repo"))


@pytest.fixture
def settings(tmp_path: Path, fake_repo: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", model_repository=str(fake_repo), inference_backend="fake")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings)) as c:
        yield c

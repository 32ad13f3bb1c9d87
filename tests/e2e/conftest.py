"""Fixtures for tests that drive a real ``modelnode serve`` process.

``server`` (one per test) and ``module_server`` (one per module) start the process on a free port
with the fake backend and the session's fake artifact repository; ``server_factory`` makes servers
on other repositories. All are SIGKILLed at teardown. When a test fails, the log of every server it
used is attached to the failure report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerFactory, ServerProcess


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.kill_all()


@pytest.fixture
def server(server_factory: ServerFactory, fake_repo: Path) -> ServerProcess:
    return server_factory(str(fake_repo)).start()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory, fake_repo: Path) -> Iterator[ServerProcess]:
    factory = ServerFactory(tmp_path_factory.mktemp("modelnode"))
    try:
        yield factory(str(fake_repo)).start()
    finally:
        factory.kill_all()


def _servers_of(item: pytest.Item) -> list[ServerProcess]:
    found: list[ServerProcess] = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, ServerProcess) and value not in found:
            found.append(value)
        elif isinstance(value, ServerFactory):
            found.extend(s for s in value.made if s not in found)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for s in _servers_of(item):
            report.sections.append((f"modelnode log ({s.log_path})", s.log_text()))

"""One real ``modelnode serve`` process (fake backend, the session's fake repository) for the
conformance stories, and the summary table at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.runner import StoryResult
from tests.e2e.server import ServerFactory, ServerProcess

RESULTS: list[StoryResult] = []


@pytest.fixture(scope="session")
def conformance_server(tmp_path_factory: pytest.TempPathFactory, fake_repo: Path) -> Iterator[ServerProcess]:
    factory = ServerFactory(tmp_path_factory.mktemp("conformance"))
    try:
        yield factory(str(fake_repo)).start()
    finally:
        factory.kill_all()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("OpenSearch API-spec stories")
    width = max(len(r.story) for r in RESULTS)
    for r in sorted(RESULTS, key=lambda r: r.story):
        if r.skipped:
            tr.write_line(f"{r.story:<{width}}  skipped  {r.skipped}")
            continue
        skipped = sum(c.outcome == "skipped" for c in r.chapters)
        counts = f"{r.passed}/{r.total}" + (f" (+{skipped} skipped)" if skipped else "")
        line = f"{r.story:<{width}}  {counts:<9}"
        if not r.ok:
            line += f"  FIRST DIFFERENCE: {r.first_failure()}"
        tr.write_line(line)
        for note in r.substitutions:
            tr.write_line(f"{'':<{width}}  substituted {note}")

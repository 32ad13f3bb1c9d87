"""Every OpenSearch API-spec story about what modelnode implements, against a real server process.

One case per story (``../shared/api-spec/tests``); ``skip.yaml`` lists the stories and chapters
modelnode deliberately does not do. A failure names the first difference; the table of all
stories is printed at the end of the run (see conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conformance.conftest import RESULTS
from tests.conformance.runner import Spec, StoryRunner
from tests.e2e.server import ServerProcess
from tests.support import SHARED

pytestmark = pytest.mark.slow

API_SPEC = SHARED / "api-spec"
STORIES_DIR = API_SPEC / "tests"
SKIPS = yaml.safe_load((Path(__file__).parent / "skip.yaml").read_text())
STORIES = sorted(str(p.relative_to(STORIES_DIR)) for p in STORIES_DIR.rglob("*.yaml"))


@pytest.fixture(scope="module")
def runner(conformance_server: ServerProcess) -> Iterator[StoryRunner]:
    r = StoryRunner(conformance_server.url, Spec(API_SPEC / "spec"))
    try:
        yield r
    finally:
        r.close()


def test_stories_found() -> None:
    assert len(STORIES) >= 40, f"expected the API-spec stories under {STORIES_DIR}"
    unknown = (set(SKIPS["stories"] or {}) | set(SKIPS["chapters"] or {})) - set(STORIES)
    assert not unknown, f"skip.yaml names stories that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("story", STORIES)
def test_story(story: str, runner: StoryRunner) -> None:
    reason = (SKIPS["stories"] or {}).get(story)
    if reason:
        pytest.skip(f"skip.yaml: {reason}")
    result = runner.run(STORIES_DIR / story, story, (SKIPS["chapters"] or {}).get(story))
    RESULTS.append(result)
    if result.skipped:
        pytest.skip(result.skipped)
    failures = [f"{c.synopsis}: {c.detail}" for c in result.chapters if c.outcome == "failed"] + result.errors
    assert not failures, f"{story}: {result.passed}/{result.total} chapters passed\n" + "\n".join(failures)

"""The user documentation holds together: every relative link of the README, the docs pages, the
contributor guide and the changelog names a file that exists, and every ``#anchor`` a heading of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.version_independent

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    slugs = set()
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", text):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_names_a_file_and_heading_that_exist(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not checked offline
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.is_file() and anchor not in anchors(destination):
            broken.append(f"{target}: no such heading")
    assert broken == []


def test_the_readme_stays_short_and_every_docs_page_is_linked_from_it() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 300, "depth belongs in docs/, CI and the suite in CONTRIBUTING.md"
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in readme, f"{page.name} is not linked from the README"


def airflow_versions() -> list[tuple[str, str]]:
    """(Airflow version, Python) of each line of requirements/airflow-versions.txt."""
    lines = (ROOT / "requirements" / "airflow-versions.txt").read_text().splitlines()
    return [tuple(line.split()[:2]) for line in lines if line.strip() and not line.startswith("#")]  # type: ignore[misc]


def test_every_airflow_version_ci_runs_is_in_the_compatibility_page() -> None:
    page = (ROOT / "docs" / "compatibility.md").read_text()
    for version, python in airflow_versions():
        assert version in page, f"Airflow {version} (Python {python}) is not in docs/compatibility.md"

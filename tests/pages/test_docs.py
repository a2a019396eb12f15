"""The screenshots the docs show exist, are small PNGs, and are all linked."""

from __future__ import annotations

import re

from tests.support.processes import REPO_ROOT


def test_screenshots_linked_from_the_docs_exist_and_are_small() -> None:
    linked = set()
    for doc, prefix in ((REPO_ROOT / "docs" / "pages.md", "docs/"), (REPO_ROOT / "README.md", "")):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", doc.read_text()):
            linked.add((REPO_ROOT / (prefix + target)).resolve())
    on_disk = set((REPO_ROOT / "docs" / "screenshots").glob("*.png"))
    assert on_disk and {p.resolve() for p in on_disk} == linked
    for path in on_disk:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        assert len(data) < 150 * 1024, path

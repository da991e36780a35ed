"""Every `docs/<page>.md#<anchor>` the code, the stack and the tests cite resolves to a page and heading in the repo.

Why: the standards the code implements are written up in docs/ (issue "One house"); a renamed heading or page must
fail here rather than leave a docstring pointing nowhere.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"docs/([a-z0-9-]+\.md)(?:#([a-z0-9-]+))?")


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^#{1,6}\s+(.*)", line):
            found.add(_slug(match.group(1)))
        found.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
    return found


def _cited() -> list[tuple[str, str, str | None]]:
    files = subprocess.run(["git", "ls-files", "*.py", "*.yaml", "Makefile", "README.md"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    out = []
    for name in files:
        path = REPO / name
        if not path.exists():
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for page, anchor in REFERENCE.findall(line):
                out.append((f"{name}:{lineno}", page, anchor or None))
    return out


def test_the_code_cites_docs():
    assert len(_cited()) > 20


def test_every_cited_page_and_anchor_exists():
    missing = []
    for where, page, anchor in _cited():
        path = REPO / "docs" / page
        if not path.exists():
            missing.append(f"{where}: docs/{page}")
        elif anchor and anchor not in _anchors(path):
            missing.append(f"{where}: docs/{page}#{anchor}")
    assert missing == []

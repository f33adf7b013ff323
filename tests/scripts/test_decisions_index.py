"""docs/decisions/index.md links every decision record, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

DECISIONS = Path(__file__).resolve().parents[2] / "docs" / "decisions"


def test_the_index_links_every_decision_record():
    linked = set(re.findall(r"\]\(([^)]+\.md)\)", (DECISIONS / "index.md").read_text()))
    records = {path.name for path in DECISIONS.glob("*.md") if path.name != "index.md"}
    assert linked == records

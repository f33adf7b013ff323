"""scripts/readme.py: README.md is docs/index.md, its snippets inlined from the example DAGs."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
readme = runpy.run_path(str(ROOT / "scripts" / "readme.py"))


def test_the_readme_is_made_from_docs_index():
    assert (ROOT / "README.md").read_text() == readme["render"](), "run `make readme`"


def test_the_readme_shows_the_first_dag_as_the_example_file_has_it():
    shown = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    source = (ROOT / "example_dags" / "clevertap_first_sync.py").read_text()
    assert shown, "the README shows the first DAG"
    for block in shown:
        assert "--8<--" not in block
        for line in block.strip().splitlines():
            assert line in source


def test_links_point_into_docs_and_exist():
    for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", (ROOT / "README.md").read_text()):
        assert target.startswith("docs/") and (ROOT / target).exists(), target

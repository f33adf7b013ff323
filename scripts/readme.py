"""`make readme`: README.md made from docs/index.md, so the quickstart has one source.

The same text, with its links to other pages pointing into ``docs/`` and its snippets
(``--8<-- "example_dags/<file>.py:<section>"``, as pymdown-extensions includes them in the site)
inlined: GitHub shows the README as it is. ``--check`` exits 1 when README.md differs.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "index.md"
README = ROOT / "README.md"
HEADER = "<!-- Made from docs/index.md by `make readme`: edit that file, not this one. -->\n"
SNIPPET = re.compile(r'^[ \t]*--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"[ \t]*$', re.M)
MARKER = re.compile(r"--8<-- \[(?P<edge>start|end):(?P<section>[\w-]+)\]\s*$")
# Relative links to other pages (not web addresses, not anchors of the same page).
LINK = re.compile(r"\]\((?!https?://|#|mailto:)(?P<target>[^)]+)\)")


def include(path: str, section: str | None) -> str:
    """The file's text, or the lines of one section of it, without marker lines, dedented."""
    lines = (ROOT / path).read_text().splitlines()
    inside = section is None
    kept = []
    for line in lines:
        marker = MARKER.search(line)
        if marker is not None:
            if marker["section"] == section:
                inside = marker["edge"] == "start"
            continue
        if inside:
            kept.append(line)
    if not kept:
        raise ValueError(f"{path}: no section {section!r}")
    return textwrap.dedent("\n".join(kept)).strip("\n")


def render() -> str:
    text = SNIPPET.sub(lambda match: include(match["path"], match["section"]), SOURCE.read_text())
    return HEADER + LINK.sub(lambda match: f"](docs/{match['target']})", text)


def main(argv: list[str]) -> int:
    wanted = render()
    if "--check" in argv:
        if README.read_text() != wanted:
            print("README.md differs from what docs/index.md makes: run `make readme`", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

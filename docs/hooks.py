"""MkDocs hook: the site's home page is README.md itself, so the front page is written once.

README's links point into docs/ (so that they work on GitHub); on the site, whose root is docs/,
the same links lose that prefix.
"""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
CODE = re.compile(r"`[^`\n]*`")


def table_pipes(markdown: str) -> str:
    r"""`a\|b` in a table row becomes `a|b`: GitHub needs the backslash there (or the pipe splits the
    cell), Python-Markdown keeps the code span whole and would print the backslash."""
    return "\n".join(
        CODE.sub(lambda m: m.group(0).replace("\\|", "|"), line) if line.startswith("|") else line
        for line in markdown.split("\n")
    )


def on_page_markdown(markdown: str, page, **_) -> str:
    """index.md is README.md, its `docs/` links made relative to docs/; every page's table pipes as above."""
    if page.file.src_uri == "index.md":
        markdown = README.read_text(encoding="utf-8").replace("](docs/", "](")
    return table_pipes(markdown)

"""MkDocs hook: the site's home page is README.md itself, so the front page is written once.

README's links point into docs/ (so that they work on GitHub); on the site, whose root is docs/,
the same links lose that prefix.
"""

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def on_page_markdown(markdown: str, page, **_) -> str:
    """Replace index.md's placeholder with README.md, its `docs/` links made relative to docs/."""
    if page.file.src_uri != "index.md":
        return markdown
    return README.read_text(encoding="utf-8").replace("](docs/", "](")

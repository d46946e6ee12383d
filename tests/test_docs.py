"""The documentation: README.md is a front page, and the site's home page is that same file.

`make docs` (mkdocs build --strict, in CI) checks every link and anchor of the built site; these
fast checks need no MkDocs.
"""

import importlib.util
import re
from types import SimpleNamespace

from conftest import ROOT

README = ROOT / "README.md"


def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page(src_uri: str):
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri))


def test_readme_is_a_front_page_that_links_into_every_docs_page():
    text = README.read_text()
    assert len(text.splitlines()) < 250
    linked = set(re.findall(r"\]\(docs/([^)#]+\.md)", text))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")} - {"index.md"}
    assert pages - linked == set(), "docs pages the README does not link to"
    assert linked - pages == set(), "README links to docs pages that do not exist"


def test_the_site_home_page_is_the_readme_with_links_relative_to_docs():
    home = hooks().on_page_markdown("placeholder", page=page("index.md"), config={}, files=[])
    assert home == hooks().table_pipes(README.read_text().replace("](docs/", "]("))
    assert "](docs/" not in home and "](tutorials/own-csv.md)" in home and "](img/forecast.png)" in home
    assert "--pruner median|halving|none" in home  # README: median\|halving, for GitHub


def test_other_pages_keep_their_links():
    text = "see [Panels](panels.md) and ](docs/x.md)"
    assert hooks().on_page_markdown(text, page=page("config.md"), config={}, files=[]) == text


def test_a_pipe_escaped_for_github_in_a_table_code_span_loses_its_backslash():
    text = "| `--pruner median\\|none` | \\|y\\| |\n`a\\|b` outside a table\n"
    assert hooks().table_pipes(text) == "| `--pruner median|none` | \\|y\\| |\n`a\\|b` outside a table\n"

"""The documentation: the site's home page is README.md itself.

`make docs` (mkdocs build --strict, in CI) checks every link and anchor of the built site; these
fast checks need no MkDocs.
"""

import importlib.util
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


def test_the_site_home_page_is_the_readme():
    home = hooks().on_page_markdown("placeholder", page=page("index.md"), config={}, files=[])
    assert home == hooks().table_pipes(README.read_text().replace("](docs/", "]("))
    assert "--pruner median|halving|none" in home  # README: median\|halving, for GitHub


def test_other_pages_keep_their_links():
    text = "see [Panels](panels.md) and ](docs/x.md)"
    assert hooks().on_page_markdown(text, page=page("config.md"), config={}, files=[]) == text


def test_a_pipe_escaped_for_github_in_a_table_code_span_loses_its_backslash():
    text = "| `--pruner median\\|none` | \\|y\\| |\n`a\\|b` outside a table\n"
    assert hooks().table_pipes(text) == "| `--pruner median|none` | \\|y\\| |\n`a\\|b` outside a table\n"

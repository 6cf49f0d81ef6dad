"""docs/plugins.md's reference parts are generated from the code (tools/plugin_docs.py): the
committed file must be what the generator writes now, so a hook or an export added, removed
or re-documented without regenerating fails here."""

from __future__ import annotations

import re

import arportal
from arportal import hookspecs
from tools import plugin_docs


def test_the_committed_plugin_guide_is_up_to_date() -> None:
    committed = plugin_docs.DOC.read_text()
    assert plugin_docs.generate(committed) == committed, (
        "docs/plugins.md is stale: run `python -m tools.plugin_docs` and commit it"
    )


def test_every_hook_is_documented_with_its_docstring_arguments_answer_and_an_example() -> None:
    text = plugin_docs.render_hooks()
    sections = dict(re.findall(r"#### `(\w+)`\n(.*?)(?=\n#### |\n### |\Z)", text, re.S))
    spec_names = {
        name for name, value in vars(hookspecs).items()
        if name.startswith("arportal_") and hasattr(value, "arportal_spec")
    }
    assert set(sections) == spec_names
    for name, section in sections.items():
        first_line = (getattr(hookspecs, name).__doc__ or "").strip().splitlines()[0]
        assert first_line in section, name
        assert "Arguments" in section and "Answer: `" in section, name
        assert "Example, from `" in section and f"def {name}(" in section.split("Example")[1], name


def test_every_export_is_listed() -> None:
    text = plugin_docs.render_api()
    listed = re.findall(r"^- `(\w+)", text, re.M)
    assert sorted(listed) == sorted(arportal.__all__)


def test_the_hand_written_text_is_kept_and_only_the_marked_parts_change() -> None:
    document = (
        "# Guide\n\nMy words.\n\n<!-- generated:hooks -->\nold\n<!-- end generated:hooks -->\n"
        "\nMore words.\n<!-- generated:api -->\n<!-- end generated:api -->\nEnd.\n"
    )
    fresh = plugin_docs.generate(document)
    assert fresh.startswith("# Guide\n\nMy words.\n\n<!-- generated:hooks -->\n")
    assert "\nold\n" not in fresh
    assert "#### `arportal_features`" in fresh and "- `holds_for(" in fresh
    assert "\nMore words.\n" in fresh and fresh.endswith("<!-- end generated:api -->\nEnd.\n")
    assert plugin_docs.generate(fresh) == fresh

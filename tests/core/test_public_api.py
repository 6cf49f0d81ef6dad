"""The public API promise: names in `arportal`'s exports and hook signatures are only added.

tests/api_snapshot.json records them; removing or changing one fails here unless a new
version's section of CHANGELOG.md names it (tools/api_snapshot.py). Additions never fail;
`python -m tools.api_snapshot --update` records them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import arportal
from tools import api_snapshot
from tools.api_snapshot import additions, breaking_changes, current, load, unexplained


def test_every_export_exists() -> None:
    missing = [name for name in arportal.__all__ if not hasattr(arportal, name)]
    assert missing == []


def test_nothing_recorded_was_removed_or_changed_without_a_version_note() -> None:
    problems = unexplained(load(), current(), api_snapshot.CHANGELOG.read_text())
    assert problems == [], "\n".join(problems)


def test_the_snapshot_records_this_version_or_an_older_one() -> None:
    from packaging.version import Version

    assert Version(load()["version"]) <= Version(arportal.__version__)


# --- what the check accepts and refuses -----------------------------------------------------


@pytest.fixture
def recorded() -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "exports": ["Feature", "holds_for", "hookimpl"],
        "hooks": {
            "arportal_theme": {
                "args": {"ctx": "TenantContext"}, "returns": "Theme | None", "firstresult": True
            },
            "arportal_invoice_actions": {
                "args": {"ctx": "TenantContext", "invoice": "Any"},
                "returns": "list[str] | str | None", "firstresult": False,
            },
        },
    }


def test_additions_never_fail_and_are_listed_for_the_snapshot(recorded: dict[str, Any]) -> None:
    now = copy.deepcopy(recorded)
    now["exports"].append("format_money")
    now["hooks"]["arportal_portal_aside"] = {
        "args": {"ctx": "TenantContext"}, "returns": "str | None", "firstresult": False
    }
    now["hooks"]["arportal_invoice_actions"]["args"]["locale"] = "str"
    assert breaking_changes(recorded, now) == {}
    assert unexplained(recorded, now, changelog="") == []
    assert additions(recorded, now) == [
        "arportal_invoice_actions", "arportal_portal_aside", "format_money"
    ]


def test_removals_and_changes_are_named(recorded: dict[str, Any]) -> None:
    now = copy.deepcopy(recorded)
    now["exports"].remove("holds_for")
    del now["hooks"]["arportal_theme"]
    actions = now["hooks"]["arportal_invoice_actions"]
    actions["args"] = {"ctx": "TenantContext", "invoices": "list[Any]"}
    actions["returns"] = "list[str]"
    assert breaking_changes(recorded, now) == {
        "holds_for": "removed from arportal's exports",
        "arportal_theme": "hook removed",
        "arportal_invoice_actions": (
            "hook changed: argument 'invoice' removed; answer retyped list[str] | str | None "
            "-> list[str]"
        ),
    }
    now = copy.deepcopy(recorded)
    now["hooks"]["arportal_theme"]["firstresult"] = False
    now["hooks"]["arportal_theme"]["args"]["ctx"] = "PortalContext"
    assert breaking_changes(recorded, now) == {
        "arportal_theme": (
            "hook changed: argument 'ctx' retyped TenantContext -> PortalContext; "
            "firstresult True -> False"
        )
    }


CHANGELOG = """# Changelog

## 0.2.0 (2027-01-10)

- `holds_for` moved to `arportal.holds`; import it from there.

## 0.1.0

- `arportal_theme` first version.
"""


def test_a_removal_passes_only_with_a_new_version_whose_note_names_it(
    recorded: dict[str, Any],
) -> None:
    now = copy.deepcopy(recorded)
    now["exports"].remove("holds_for")
    (problem,) = unexplained(recorded, now, CHANGELOG)
    assert problem.startswith(
        "arportal.holds_for: removed from arportal's exports since 0.1.0 without a version note."
    )
    assert "raise arportal.__version__ above 0.1.0 and name `holds_for`" in problem
    assert "python -m tools.api_snapshot --update" in problem
    now["version"] = "0.2.0"
    assert unexplained(recorded, now, CHANGELOG) == []
    now["version"] = "0.3.0"  # the note must be in the section of the version being released
    assert len(unexplained(recorded, now, CHANGELOG)) == 1
    del now["hooks"]["arportal_theme"]
    now["version"] = "0.2.0"  # named in 0.1.0's section only: not a note for this change
    (problem,) = unexplained(recorded, now, CHANGELOG)
    assert problem.startswith("arportal.arportal_theme: hook removed since 0.1.0")


def test_update_refuses_to_forget_a_removal_without_a_note(
    recorded: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot = tmp_path / "api_snapshot.json"
    snapshot.write_text(api_snapshot.dumps(recorded))
    monkeypatch.setattr(api_snapshot, "SNAPSHOT", snapshot)
    monkeypatch.setattr(api_snapshot, "CHANGELOG", tmp_path / "CHANGELOG.md")
    now = copy.deepcopy(recorded)
    now["exports"].remove("hookimpl")
    now["exports"].append("translate")
    monkeypatch.setattr(api_snapshot, "current", lambda: now)
    assert api_snapshot.main(["--update"]) == 1
    assert "arportal.hookimpl: removed" in capsys.readouterr().err
    assert load(snapshot) == recorded
    now["exports"].append("hookimpl")
    assert api_snapshot.main([]) == 0
    assert "not recorded yet: translate" in capsys.readouterr().out
    assert api_snapshot.main(["--update"]) == 0
    assert "translate" in load(snapshot)["exports"]

"""The `arportal` command line, run as a user runs it, on both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arportal.cli import main
from tests.conftest import SECRET


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    config = tmp_path / "arportal.toml"
    config.write_text(
        f'database = "{db_url}"\nsecret_key = "{SECRET}"\nbase_url = "http://portal.test"\n'
        "[plugins]\nenabled = []\n"
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_tenant_create_shows_the_key_once_and_lists(cli: Any) -> None:
    created = json.loads(cli("tenants", "create", "acme", "--name", "Acme Corp", "--json").output)
    assert created["slug"] == "acme"
    assert created["api_key"].startswith("arp_")
    listed = json.loads(cli("tenants", "list", "--json").output)
    assert listed == [{"slug": "acme", "name": "Acme Corp", "customers": 0}]
    assert "api_key" not in cli("tenants", "list").output


def test_bad_input_exits_nonzero_with_one_line(cli: Any) -> None:
    cli("tenants", "create", "acme", "--name", "Acme")
    again = cli("tenants", "create", "acme", "--name", "Acme", ok=False)
    assert again.exit_code == 1
    assert again.output.strip().splitlines() == ["error: slug: tenant 'acme' already exists"]
    bad_slug = cli("tenants", "create", "Not A Slug", "--name", "x", ok=False)
    assert bad_slug.exit_code == 1 and "slug" in bad_slug.output
    missing = cli("links", "show", "nobody", "C-1", ok=False)
    assert missing.exit_code == 1 and "no tenant 'nobody'" in missing.output


def test_api_keys_create_and_revoke(cli: Any) -> None:
    cli("tenants", "create", "acme", "--name", "Acme")
    key = json.loads(cli("api-keys", "create", "acme", "--name", "erp", "--json").output)
    assert key["api_key"].startswith(f"arp_{key['prefix']}_")
    cli("api-keys", "revoke", "acme", key["prefix"])
    again = cli("api-keys", "revoke", "acme", key["prefix"], ok=False)
    assert again.exit_code == 1 and "no active API key" in again.output


def test_imports_links_and_settings(cli: Any, tmp_path: Path) -> None:
    cli("tenants", "create", "acme", "--name", "Acme")
    customers = write(
        tmp_path,
        "customers.csv",
        "external_id,name,email,currency,locale\n"
        "C-1,Northwind,ap@northwind.example,USD,en\n"
        "C-2,Fabrikam,compta@fabrikam.example,EUR,fr\n",
    )
    imported = json.loads(cli("customers", "import", "acme", customers, "--json").output)
    assert imported["imported"] == 2
    invoices = write(
        tmp_path,
        "invoices.csv",
        "external_id,customer_external_id,number,issue_date,due_date,currency,total\n"
        "I-1,C-1,INV-1,2026-01-01,2026-01-31,USD,100.00\n"
        "I-2,C-1,INV-2,2026-13-01,2026-02-28,USD,50.00\n",
    )
    failed = cli("invoices", "import", "acme", invoices, ok=False)
    assert failed.exit_code == 1
    assert "line 3" in failed.output and "issue_date" in failed.output
    assert "nothing was imported" in failed.output

    link = json.loads(cli("links", "show", "acme", "C-1", "--json").output)
    assert link["portal_url"].startswith("http://portal.test/p/")
    rotated = json.loads(cli("links", "rotate", "acme", "C-1", "--json").output)
    assert rotated["portal_url"] != link["portal_url"]
    assert (
        json.loads(cli("links", "show", "acme", "C-1", "--json").output)["portal_url"]
        == (rotated["portal_url"])
    )

    settings = write(tmp_path, "s.toml", "[portal]\nlink_validity_days = 40\n")
    cli("settings", "apply", "acme", settings)
    shown = json.loads(cli("settings", "show", "acme", "--json").output)
    assert shown["portal"]["link_validity_days"] == 40
    bad = write(tmp_path, "bad.toml", "[portal]\nlink_validity_days = 5000\n")
    refused = cli("settings", "apply", "acme", bad, ok=False)
    assert refused.exit_code == 1 and "portal.link_validity_days" in refused.output


def test_plugins_list_reports_installed_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["plugins", "list", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    rows = json.loads(result.output)
    example = [r for r in rows if r["name"] == "example"]
    assert example and example[0]["kind"] == "third-party" and example[0]["enabled"] is True


def test_outbox_retry_says_what_it_requeued(cli: Any) -> None:
    cli("tenants", "create", "acme", "--name", "Acme Corp")
    assert cli("outbox", "retry").output.strip() == "no failed mail to send again"
    assert json.loads(cli("outbox", "retry", "7", "--tenant", "acme", "--json").output) == {
        "requeued": []
    }
    missing = cli("outbox", "retry", "--tenant", "nobody", ok=False)
    assert missing.exit_code == 1 and "no tenant 'nobody'" in missing.output

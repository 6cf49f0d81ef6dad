"""`arportal.testing`, the pytest plugin plugin authors get with arportal: its fixtures drive
the example plugin (loaded by name through its entry point, as a third party's suite loads
its own), and a project with no conftest of its own gets them too."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from arportal.testing import CustomerHandle, Outbox, Running, TenantHandle, set_today


@pytest.fixture
def plugins() -> list[str]:
    return ["example"]


async def test_plugins_named_are_loaded_through_their_entry_points(app: Running) -> None:
    assert app.host.plugin_names == ["example"]


async def test_a_customer_browses_their_portal_and_switches_follow_the_operator(
    tenant: TenantHandle, customer: CustomerHandle
) -> None:
    home = await customer.get()
    assert home.status_code == 200 and "Buyer C1" in home.text
    assert (await customer.get("example")).status_code == 404
    await tenant.set_features(example=True)
    assert (await customer.get("example")).status_code == 200
    assert (await customer.get("example/reminders")).status_code == 404
    await customer.set_toggles(example_optin=True)
    assert (await customer.get("example/reminders")).status_code == 200
    ctx = await customer.context()
    assert ctx.customer["external_id"] == "C1" and ctx.toggle_enabled("example_optin")
    assert (await tenant.context()).feature_enabled("example")


async def test_each_customer_has_their_own_browser(tenant: TenantHandle) -> None:
    first = await tenant.add_customer("C1", name="Northwind")
    second = await tenant.add_customer("C2", name="Bistro Lyonnais", locale="fr")
    assert "Northwind" in (await first.get()).text
    assert "Bistro Lyonnais" in (await second.get()).text
    outsider = await tenant.add_customer("C3", enter=False)
    assert (await outsider.get()).status_code == 404


async def test_forms_carry_the_csrf_token_and_mail_reaches_the_outbox(
    tenant: TenantHandle, customer: CustomerHandle, outbox: Outbox
) -> None:
    await tenant.set_features(example=True)
    await tenant.set_settings("example", panel_title="Reminders")
    sent = await customer.post_form("example/notes", {"body": "Please call us."})
    assert sent.status_code == 303
    (mail,) = await outbox.messages(tenant=tenant)
    assert mail["to_addrs"] == ["ap-c1@buyer.test"]
    assert mail["subject"] == "Acme Corp received your note"
    assert "Please call us." in mail["text_body"]
    assert await outbox.messages(to="nobody@buyer.test") == []


async def test_tenant_api_checks_the_status(tenant: TenantHandle) -> None:
    refused = await tenant.api("PATCH", "/settings", {"example": {"hold_prefix": "X" * 30}},
                               status=422)
    assert refused["field"] == "example.hold_prefix"
    with pytest.raises(AssertionError, match="answered 422, not 200"):
        await tenant.api("PATCH", "/settings", {"example": {"hold_prefix": "X" * 30}})


async def test_invoices_for_a_customer(tenant: TenantHandle, customer: CustomerHandle) -> None:
    row = await tenant.add_invoice(customer, "INV-7", total="42.00", due_date="2026-04-01")
    assert (row["number"], row["currency"], row["total"]) == ("INV-7", "USD", "42.00")
    assert "INV-7" in (await customer.get()).text


def test_frozen_today_defaults_to_a_fixed_day(frozen_today: dt.date) -> None:
    assert frozen_today == dt.date(2026, 3, 15)


@pytest.mark.frozen_today("2026-04-01")
async def test_frozen_today_follows_the_marker_and_set_today_moves_it(
    tenant: TenantHandle, frozen_today: dt.date
) -> None:
    assert frozen_today == dt.date(2026, 4, 1)
    assert (await tenant.context()).today() == dt.date(2026, 4, 1)
    set_today("2026-05-02")
    assert (await tenant.context()).today() == dt.date(2026, 5, 2)


# --- a project with nothing of arportal's repository ------------------------------------------


THIRD_PARTY_TEST = '''
import pytest

pytestmark = pytest.mark.asyncio  # strict mode: no asyncio_mode in this project


@pytest.fixture
def plugins():
    return ["example"]


async def test_feature_switch(tenant, customer):
    assert (await customer.get("example")).status_code == 404
    await tenant.set_features(example=True)
    assert (await customer.get("example")).status_code == 200


async def test_outbox_starts_empty(outbox, app):
    assert await outbox.messages() == []
'''


@pytest.mark.parametrize("postgres", [False, True], ids=["sqlite-only", "with-postgres"])
def test_a_third_party_suite_gets_the_fixtures_and_postgres_when_configured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres: bool
) -> None:
    url = os.environ.get("ARPORTAL_TEST_POSTGRES")
    if postgres and not url:
        pytest.skip("ARPORTAL_TEST_POSTGRES is not set")
    if not postgres:
        monkeypatch.delenv("ARPORTAL_TEST_POSTGRES", raising=False)
    pytester.makepyfile(test_reminders=THIRD_PARTY_TEST)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    engines = ["sqlite", "postgres"] if postgres else ["sqlite"]
    result.assert_outcomes(passed=2 * len(engines))
    for engine in engines:
        result.stdout.fnmatch_lines([f"*test_feature_switch?{engine}? PASSED*"])
    if not postgres:
        assert "[postgres]" not in result.stdout.str()


def test_a_project_fixture_of_the_same_name_wins_and_is_not_parametrized(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef db_url():\n    return 'mysql://theirs'\n"
    )
    pytester.makepyfile(test_theirs="def test_theirs(db_url):\n    assert db_url == 'mysql://theirs'\n")
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_theirs PASSED*"])


def test_the_postgres_url_comes_from_the_environment_else_the_ini_option(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arportal.testing import postgres_url

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setenv("ARPORTAL_TEST_POSTGRES", "postgresql://u@db.test/wipe_me")
    assert postgres_url(pytestconfig) == "postgresql://u@db.test/wipe_me"
    monkeypatch.setenv("ARPORTAL_TEST_POSTGRES", "off")
    assert postgres_url(pytestconfig) is None
    monkeypatch.delenv("ARPORTAL_TEST_POSTGRES")
    assert postgres_url(pytestconfig) == "postgresql://postgres@127.0.0.1:5432/test"
    assert postgres_url(None) is None
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert postgres_url(pytestconfig) == "postgresql://postgres@127.0.0.1:5432/test_gw1", (
        "each pytest-xdist worker wipes a database of its own")


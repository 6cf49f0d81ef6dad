"""Loading plugins: what start-up refuses (with the plugin's name in the message), what the
instance config leaves out, and how a misbehaving plugin is kept from taking a page down."""

from __future__ import annotations

import logging
import types
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import pytest

from arportal import CustomerToggle, Feature, Theme, hookimpl
from arportal.app import build_app
from arportal.config import Config, PluginsConfig
from arportal.models import TenantFeature
from arportal.plugin_host import ENTRY_POINT_GROUP, PluginError, PluginHost, discover
from tests.conftest import SECRET, make_tenant, running_app


@pytest.fixture
def config(tmp_path: Any) -> Config:
    """A config for apps that are built but never started (no database is touched)."""
    return Config(database=f"sqlite:///{tmp_path / 'unused.db'}", secret_key=SECRET)


def plugin(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace the installed entry points: `entry_points(*points)` with (name, module) pairs,
    the real ones kept unless `keep_installed=False`."""
    installed = list(metadata.entry_points(group=ENTRY_POINT_GROUP))

    def install(*points: tuple[str, str], keep_installed: bool = True) -> None:
        fake = [metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in points]
        found = (installed if keep_installed else []) + fake
        monkeypatch.setattr(
            "arportal.plugin_host.metadata.entry_points",
            lambda **kwargs: [ep for ep in found if ep.group == kwargs.get("group")],
        )

    return install


@pytest.fixture
def broken_module(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "h4_broken_plugin.py").write_text(
        "raise RuntimeError('boom at import: missing licence key')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "h4_broken_plugin"


# --- hooks that do not exist, arguments a hook does not offer ---------------------------------


def test_a_misspelled_hook_names_the_plugin_and_the_hook(config: Config) -> None:
    @hookimpl
    def arportal_portal_panel(ctx: Any) -> str:
        return "never drawn"

    typo = plugin("typo_plugin", arportal_portal_panel=arportal_portal_panel)
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("typo", typo)])
    assert str(raised.value) == (
        "plugin 'typo' implements unknown hook 'arportal_portal_panel'; "
        "did you mean 'arportal_portal_panels'?"
    )


def test_attributes_that_are_not_hook_implementations_are_left_alone(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    def arportal_format_amount(minor: int) -> str:  # a helper, not marked as a hook
        return str(minor)

    def arportal_features() -> list[Feature]:  # forgot @hookimpl
        return [Feature(key="forgotten", label="Forgotten")]

    @hookimpl
    def arportal_contact_info() -> dict[str, str]:
        return {"phone": "+1 555 0100"}

    helper = plugin(
        "helper_plugin",
        arportal_colour="#123456",
        arportal_format_amount=arportal_format_amount,
        arportal_features=arportal_features,
        arportal_contact_info=arportal_contact_info,
    )
    with caplog.at_level(logging.WARNING, logger="arportal.plugins"):
        app = build_app(config, plugins=[("helper", helper)])
    assert app.state.host.plugin_names == ["helper"]
    assert "forgotten" not in app.state.host.declarations.features
    assert [r.getMessage() for r in caplog.records] == [
        "plugin 'helper' defines arportal_features() without @arportal.hookimpl; it is not called"
    ]


def test_an_argument_the_hook_does_not_offer_is_refused(config: Config) -> None:
    @hookimpl
    def arportal_portal_panels(ctx: Any, customer_name: str) -> str:
        return customer_name

    greedy = plugin("greedy_plugin", arportal_portal_panels=arportal_portal_panels)
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("greedy", greedy)])
    assert str(raised.value) == (
        "plugin 'greedy': arportal_portal_panels() takes customer_name, which "
        "arportal_portal_panels does not offer (it offers ctx)"
    )


def test_hook_wrappers_are_refused(config: Config) -> None:
    @hookimpl(wrapper=True)
    def arportal_portal_panels(ctx: Any) -> Any:
        return (yield)

    wrapping = plugin("wrapping_plugin", arportal_portal_panels=arportal_portal_panels)
    with pytest.raises(PluginError, match="'wrapping': arportal_portal_panels is a hook wrapper"):
        build_app(config, plugins=[("wrapping", wrapping)])


# --- declarations -----------------------------------------------------------------------------


def declaring(name: str, features: Any) -> types.ModuleType:
    @hookimpl
    def arportal_features() -> Any:
        return features() if callable(features) else features

    return plugin(f"{name}_plugin", arportal_features=arportal_features)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("disputes", "plugin 'bad': arportal_features must answer Feature objects, got str"),
        (
            lambda: 1 / 0,
            "plugin 'bad' failed in arportal_features: ZeroDivisionError: division by zero",
        ),
    ],
)
def test_a_bad_declaration_names_the_plugin(config: Config, features: Any, message: str) -> None:
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("bad", declaring("bad", features))])
    assert str(raised.value) == message


def test_declarations_are_called_once_at_start_up_and_must_be_sync(config: Config) -> None:
    @hookimpl
    async def arportal_features() -> list[Feature]:
        return [Feature(key="late", label="Late")]

    late = plugin("late_plugin", arportal_features=arportal_features)
    with pytest.raises(PluginError, match="'late': arportal_features .* must not be async"):
        build_app(config, plugins=[("late", late)])


def test_two_plugins_cannot_declare_the_same_feature(config: Config) -> None:
    one = declaring("one", [Feature(key="disputes", label="Disputes")])
    two = declaring("two", [Feature(key="disputes", label="Disputes too")])
    with pytest.raises(PluginError, match="'two': feature 'disputes' is already declared by 'one'"):
        build_app(config, plugins=[("one", one), ("two", two)])


def test_a_toggle_of_an_undeclared_feature_is_refused(config: Config) -> None:
    @hookimpl
    def arportal_customer_toggles() -> list[CustomerToggle]:
        return [CustomerToggle(key="autopay", label="Autopay", feature="autopay")]

    orphan = plugin("orphan_plugin", arportal_customer_toggles=arportal_customer_toggles)
    with pytest.raises(PluginError, match="toggle 'autopay' names feature 'autopay', which no"):
        build_app(config, plugins=[("orphan", orphan)])


def test_a_plugin_name_is_taken_once(config: Config) -> None:
    one = declaring("one", [])
    with pytest.raises(PluginError, match="plugin 'core': the name is already taken"):
        build_app(config, plugins=[("core", one)])
    with pytest.raises(PluginError, match="plugin 'twice': the name is already taken"):
        build_app(config, plugins=[("twice", one), ("twice", declaring("two", []))])


# --- versions -----------------------------------------------------------------------------------


def test_a_plugin_for_another_core_version_is_refused(config: Config) -> None:
    future = plugin("future_plugin", ARPORTAL_REQUIRES=">=99")
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("future", future)])
    assert str(raised.value) == (
        "plugin 'future' requires arportal >=99, but this is arportal 0.1.0: install a version "
        "of the plugin made for it, or disable it with plugins.disabled = ['future']"
    )
    garbled = plugin("garbled_plugin", ARPORTAL_REQUIRES="version two")
    with pytest.raises(PluginError, match="'garbled': ARPORTAL_REQUIRES 'version two' is not a"):
        build_app(config, plugins=[("garbled", garbled)])


def test_an_installed_plugin_for_another_core_version_stops_start_up(
    config: Config, entry_points: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "h4_future_plugin.py").write_text('ARPORTAL_REQUIRES = ">=99"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    entry_points(("future", "h4_future_plugin"), keep_installed=False)
    with pytest.raises(PluginError, match=r"^plugin 'future' requires arportal >=99"):
        build_app(config)
    skipping = Config(database=config.database, secret_key=SECRET,
                      plugins=PluginsConfig(skip_broken=True))
    host = build_app(skipping).state.host
    assert host.plugin_names == []
    (info,) = host.infos
    assert (info.name, info.enabled) == ("future", False)
    assert "requires arportal >=99" in (info.error or "")


# --- discovery ---------------------------------------------------------------------------------


def test_a_plugin_that_fails_to_import_stops_start_up(
    config: Config, entry_points: Any, broken_module: str
) -> None:
    entry_points(("broken", broken_module))
    with pytest.raises(PluginError) as raised:
        build_app(config)
    assert str(raised.value) == (
        "plugin 'broken' failed to import: RuntimeError: boom at import: missing licence key "
        "(set plugins.skip_broken = true to start without it)"
    )


def test_skip_broken_starts_without_it_and_reports_it(
    tmp_path: Any, entry_points: Any, broken_module: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry_points(("broken", broken_module))
    config = Config(
        database=f"sqlite:///{tmp_path / 'unused.db'}",
        secret_key=SECRET,
        plugins=PluginsConfig(skip_broken=True),
    )
    with caplog.at_level(logging.ERROR, logger="arportal.plugins"):
        host = build_app(config).state.host
    assert "broken" not in host.plugin_names
    assert "example" in host.plugin_names  # the healthy installed plugin still loads
    (info,) = [info for info in host.infos if info.name == "broken"]
    assert info.enabled is False
    assert info.error == "RuntimeError: boom at import: missing licence key"
    assert any("plugin 'broken' failed to import" in r.getMessage() for r in caplog.records)


def test_a_plugin_installed_twice_is_refused(config: Config, entry_points: Any) -> None:
    entry_points(("example", "somebody_elses.example"))
    with pytest.raises(PluginError, match="plugin 'example' is installed twice"):
        build_app(config)


def test_enabling_a_plugin_that_is_not_installed_is_an_error(tmp_path: Any) -> None:
    config = Config(
        database=f"sqlite:///{tmp_path / 'unused.db'}",
        secret_key=SECRET,
        plugins=PluginsConfig(enabled=["example", "disputes_typo"]),
    )
    with pytest.raises(PluginError, match="enabled names 'disputes_typo', which is not installed"):
        discover(config)


async def test_a_disabled_plugin_is_left_out(make_config: Any) -> None:
    config = make_config(plugins=PluginsConfig(disabled=["example"]))
    async with running_app(config, plugins=None) as app:
        assert "example" not in app.host.plugin_names
        (info,) = [info for info in app.host.infos if info.name == "example"]
        assert info.enabled is False and info.error is None
        assert "example" not in app.host.declarations.features
        assert "example" not in app.host.declarations.sections
        tenant = await make_tenant()
        switch_on = await app.client.patch(
            "/api/v1/settings", json={"features": {"example": True}}, headers=tenant.headers
        )
        assert switch_on.status_code == 422
        assert switch_on.json()["field"] == "features.example"
        await TenantFeature.insert(TenantFeature(tenant=tenant.id, key="example", enabled=True))
        notes = await app.client.get("/api/v1/example/notes", headers=tenant.headers)
        assert notes.status_code == 404


# --- dispatch: failures isolated, async awaited ----------------------------------------------


class Flaky:
    @hookimpl
    def arportal_portal_panels(self, ctx: Any) -> str:
        raise RuntimeError("flaky panel")

    @hookimpl
    async def arportal_invoice_actions(self, invoice: Any) -> str:
        raise RuntimeError("flaky action")

    @hookimpl
    def arportal_invoice_badges(self, invoices: list[Any]) -> dict[int, list[str]]:
        raise RuntimeError("flaky badges")


class Steady:
    @hookimpl
    async def arportal_portal_panels(self, ctx: Any) -> str:
        return f"Steady panel for {ctx.customer['name']}"

    @hookimpl
    async def arportal_invoice_actions(self, invoice: Any) -> str:
        return f"Steady action on {invoice['number']}"

    @hookimpl
    async def arportal_contact_info(self) -> dict[str, str]:
        return {"phone": "+1 555 0199"}


async def test_a_raising_slot_is_logged_and_the_page_still_renders(
    make_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    plugins = [("flaky", Flaky()), ("steady", Steady())]
    async with running_app(make_config(), plugins=plugins) as app:
        tenant = await make_tenant()
        client = app.client
        customers = await client.put(
            "/api/v1/customers", json=[{"external_id": "C1", "name": "Buyer One"}],
            headers=tenant.headers,
        )
        invoice = {
            "external_id": "I1", "customer_external_id": "C1", "number": "INV-1",
            "issue_date": "2026-01-01", "due_date": "2026-01-31", "currency": "USD",
            "total": "10.00",
        }
        await client.put("/api/v1/invoices", json=[invoice], headers=tenant.headers)
        await client.get(urlsplit(customers.json()[0]["portal_url"]).path)
        with caplog.at_level(logging.ERROR, logger="arportal.plugins"):
            home = await client.get("/portal/")
            page = await client.get("/portal/invoices/I1")
    assert home.status_code == 200
    assert "Steady panel for Buyer One" in home.text  # async implementations are awaited
    assert "+1 555 0199" in home.text
    assert page.status_code == 200
    assert "Steady action on INV-1" in page.text
    failures = {(r.getMessage(), r.exc_info[1].args[0]) for r in caplog.records if r.exc_info}
    assert failures >= {
        ("plugin 'flaky' failed in arportal_portal_panels", "flaky panel"),
        ("plugin 'flaky' failed in arportal_invoice_badges", "flaky badges"),
        ("plugin 'flaky' failed in arportal_invoice_actions", "flaky action"),
    }


async def test_async_implementations_are_awaited_by_call_and_first() -> None:
    seen: list[str] = []

    class Async:
        @hookimpl
        async def arportal_theme(self) -> Theme:
            return Theme(primary_color="#000000")

        @hookimpl
        async def arportal_event(self, name: str) -> None:
            seen.append(name)

    class Sync:
        @hookimpl
        def arportal_contact_info(self) -> dict[str, str]:
            return {"email": "ar@seller.test"}

    host = PluginHost([("async", Async()), ("sync", Sync())])
    assert await host.first("arportal_theme", None) == Theme(primary_color="#000000")
    assert await host.call("arportal_event", None, name="paid", data={}) == []
    assert seen == ["paid"]
    assert await host.call("arportal_contact_info", None) == [{"email": "ar@seller.test"}]


async def test_isolate_false_lets_the_caller_decide() -> None:
    class Failing:
        @hookimpl
        async def arportal_invoice_holds(self, invoices: list[Any]) -> list[Any]:
            raise RuntimeError("holds store down")

    host = PluginHost([("failing", Failing())])
    assert await host.call("arportal_invoice_holds", None, invoices=[]) == []
    with pytest.raises(RuntimeError, match="holds store down"):
        await host.call("arportal_invoice_holds", None, isolate=False, invoices=[])


def test_an_extension_hook_without_its_declaring_plugin_only_warns(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """Disabling a plugin must not force disabling every plugin that extends it."""

    class Wording:
        @hookimpl
        def example_reminder_text(self, invoice: Any) -> str:
            return "unused"

    with caplog.at_level(logging.WARNING, logger="arportal.plugins"):
        host = build_app(config, plugins=[("wording", Wording())]).state.host
    assert host.plugin_names == ["wording"]
    assert [r.getMessage() for r in caplog.records] == [
        "plugin 'wording' implements 'example_reminder_text', which no loaded plugin declares; "
        "it is never called"
    ]


def test_listing_plugins_reports_problems_instead_of_raising(
    tmp_path: Any, entry_points: Any, broken_module: str
) -> None:
    """What `arportal plugins list` needs: every installed plugin, each with its problem."""
    entry_points(("broken", broken_module))
    config = Config(
        database=f"sqlite:///{tmp_path / 'unused.db'}",
        secret_key=SECRET,
        plugins=PluginsConfig(enabled=["broken", "example", "not_installed"]),
    )
    loaded, infos = discover(config, strict=False)
    assert [name for name, _ in loaded] == ["example"]
    assert {(i.name, i.enabled, i.error) for i in infos if not i.builtin} == {
        ("broken", False, "RuntimeError: boom at import: missing licence key"),
        ("example", True, None),
    }
    assert all(not i.enabled and i.error is None for i in infos if i.builtin), (
        "built-in ones not named are off"
    )


async def test_a_call_missing_a_hook_argument_is_the_callers_error() -> None:
    class Panels:
        @hookimpl
        def arportal_invoice_actions(self, invoice: Any) -> str:
            return "action"

    host = PluginHost([("panels", Panels())])
    with pytest.raises(TypeError, match="arportal_invoice_actions called without invoice"):
        await host.call("arportal_invoice_actions", None)

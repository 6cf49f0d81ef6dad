"""Start-up validation beyond misspelled `arportal_` hooks (tests/core/test_plugin_loading.py):
near misses of hooks other plugins add, routes tagged with a feature or toggle nobody
declares, Piccolo apps and template folders that are not there; and `arportal serve` stopping
with the plugin's name before it serves anything."""

from __future__ import annotations

import types
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Controller, Router, get

from arportal import CustomerToggle, Feature, hookimpl, hookspec
from arportal.app import build_app
from arportal.cli import main
from arportal.config import Config
from arportal.plugin_host import ENTRY_POINT_GROUP, PluginError
from tests.conftest import SECRET


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config for apps that are built but never started (no database is touched)."""
    return Config(database=f"sqlite:///{tmp_path / 'unused.db'}", secret_key=SECRET)


def plugin(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


# --- hooks that plugins add ---------------------------------------------------------------------


class GreetingSpecs:
    @hookspec(firstresult=True)
    def greeter_greeting(self, ctx: Any) -> str | None:
        """The greeting of the portal."""


class Greeter:
    @hookimpl
    def arportal_hookspecs(self) -> list[Any]:
        return [GreetingSpecs]


def test_a_near_miss_of_a_hook_another_plugin_adds_is_refused(config: Config) -> None:
    class Wording:
        @hookimpl
        def greeter_greetings(self, ctx: Any) -> str:
            return "Hello"

    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("greeter", Greeter()), ("wording", Wording())])
    assert str(raised.value) == (
        "plugin 'wording' implements unknown hook 'greeter_greetings'; "
        "did you mean 'greeter_greeting'?"
    )


def test_the_hook_spelled_right_is_called(config: Config) -> None:
    class Wording:
        @hookimpl
        def greeter_greeting(self, ctx: Any) -> str:
            return "Hello"

    host = build_app(config, plugins=[("greeter", Greeter()), ("wording", Wording())]).state.host
    assert host.plugin_names == ["greeter", "wording"]
    assert host.pm.hook.greeter_greeting(ctx=None) == "Hello"


# --- routes ---------------------------------------------------------------------------------------


def routed(portal: list[Any], features: tuple[str, ...] = ("notes",)) -> types.ModuleType:
    @hookimpl
    def arportal_features() -> list[Feature]:
        return [Feature(key=key, label=key) for key in features]

    @hookimpl
    def arportal_customer_toggles() -> list[CustomerToggle]:
        return [CustomerToggle(key="notes_optin", label="Opt-in", feature=features[0])]

    @hookimpl
    def arportal_portal_routes() -> list[Any]:
        return portal

    return plugin(
        "routed_plugin",
        arportal_features=arportal_features,
        arportal_customer_toggles=arportal_customer_toggles,
        arportal_portal_routes=arportal_portal_routes,
    )


@get("/notes", opt={"feature": "notse"}, sync_to_thread=False)
def misspelled_feature() -> str:
    return "never reached"


@get("/notes/optin", opt={"feature": "notes", "toggle": "notes_opt_in"}, sync_to_thread=False)
def misspelled_toggle() -> str:
    return "never reached"


class NotesController(Controller):
    path = "/notes-board"
    opt = {"feature": "board"}

    @get("/", sync_to_thread=False)
    def board(self) -> str:
        return "never reached"


@get("/ok", opt={"feature": "notes", "toggle": "notes_optin"}, sync_to_thread=False)
def well_tagged() -> str:
    return "ok"


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([misspelled_feature], "route /portal/notes is tagged feature 'notse'"),
        ([misspelled_toggle], "route /portal/notes/optin is tagged toggle 'notes_opt_in'"),
        ([NotesController], "route /portal/notes-board is tagged feature 'board'"),
        (
            [Router(path="/more", route_handlers=[well_tagged], opt={"feature": "mroe"})],
            "route /portal/more/ok is tagged feature 'mroe'",
        ),
    ],
)
def test_a_route_tagged_with_an_undeclared_feature_or_toggle_is_refused(
    config: Config, routes: list[Any], message: str
) -> None:
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("notes", routed(routes))])
    assert str(raised.value) == f"plugin 'notes': {message}, which no plugin declares"


def test_well_tagged_routes_start(config: Config) -> None:
    app = build_app(config, plugins=[("notes", routed([well_tagged]))])
    assert "/portal/ok" in {route.path for route in app.routes}


# --- files a plugin points at ---------------------------------------------------------------------


def test_a_piccolo_app_that_fails_to_import_names_the_plugin(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "h2b_tables_broken.py").write_text("from nowhere import Table\n")
    (tmp_path / "h2b_tables_empty.py").write_text("TABLES = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def tables(module: str) -> types.ModuleType:
        @hookimpl
        def arportal_piccolo_app() -> str:
            return module

        return plugin("tables_plugin", arportal_piccolo_app=arportal_piccolo_app)

    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("tables", tables("h2b_tables_broken"))])
    assert str(raised.value) == (
        "plugin 'tables': its Piccolo app 'h2b_tables_broken' failed to import: "
        "ModuleNotFoundError: No module named 'nowhere'"
    )
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("tables", tables("h2b_tables_empty"))])
    assert str(raised.value) == (
        "plugin 'tables': its Piccolo app 'h2b_tables_empty' has no APP_CONFIG "
        "(a piccolo.conf.apps.AppConfig)"
    )


def test_a_template_folder_that_is_not_there_names_the_plugin(
    config: Config, tmp_path: Path
) -> None:
    missing = tmp_path / "site-packages" / "notes" / "templates"

    @hookimpl
    def arportal_template_dirs() -> list[str]:
        return [str(missing)]

    unpackaged = plugin("unpackaged_plugin", arportal_template_dirs=arportal_template_dirs)
    with pytest.raises(PluginError) as raised:
        build_app(config, plugins=[("notes", unpackaged)])
    assert str(raised.value) == (
        f"plugin 'notes': arportal_template_dirs answered '{missing}', which is not a folder "
        "(are the templates in the package data?)"
    )


# --- arportal serve -------------------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`arportal serve` with the entry points `install(name=source)` wrote (modules in a
    temporary folder); serving itself must never be reached."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ARPORTAL_DATABASE", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("ARPORTAL_SECRET_KEY", SECRET)
    # `serve` exports its base URL for its workers: undone after the test with this
    monkeypatch.setenv("ARPORTAL_BASE_URL", "http://127.0.0.1:8765")

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("arportal serve started serving")

    monkeypatch.setattr("arportal.serving.run", never)

    def run(**sources: str) -> Any:
        points = []
        for name, source in sources.items():
            (tmp_path / f"h2b_{name}.py").write_text(source)
            points.append(metadata.EntryPoint(name, f"h2b_{name}", ENTRY_POINT_GROUP))
        monkeypatch.setattr(
            "arportal.plugin_host.metadata.entry_points",
            lambda **kwargs: points if kwargs.get("group") == ENTRY_POINT_GROUP else [],
        )
        return CliRunner().invoke(main, ["serve", "--port", "8765"])

    return run


def test_serve_stops_on_a_misspelled_hook_naming_the_plugin_and_the_hook(serve: Any) -> None:
    result = serve(typo=(
        "from arportal import hookimpl\n\n"
        "@hookimpl\n"
        "def arportal_portal_panel(ctx):\n"
        "    return 'never drawn'\n"
    ))
    assert result.exit_code == 1
    assert result.output == (
        "error: plugin 'typo' implements unknown hook 'arportal_portal_panel'; "
        "did you mean 'arportal_portal_panels'?\n"
    )


def test_serve_stops_on_a_route_tag_nobody_declares(serve: Any) -> None:
    result = serve(tagged=(
        "from litestar import get\n"
        "from arportal import hookimpl\n\n"
        "@get('/tagged', opt={'feature': 'nobody'}, sync_to_thread=False)\n"
        "def page() -> str:\n"
        "    return ''\n\n"
        "@hookimpl\n"
        "def arportal_portal_routes():\n"
        "    return [page]\n"
    ))
    assert result.exit_code == 1
    assert result.output == (
        "error: plugin 'tagged': route /portal/tagged is tagged feature 'nobody', which no "
        "plugin declares\n"
    )


def test_serve_stops_on_a_plugin_that_fails_to_import_unless_told_to_skip_it(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = "raise ImportError('needs the vendor SDK')\n"
    result = serve(broken=broken)
    assert result.exit_code == 1
    assert result.output == (
        "error: plugin 'broken' failed to import: ImportError: needs the vendor SDK "
        "(set plugins.skip_broken = true to start without it)\n"
    )
    monkeypatch.setenv("ARPORTAL_PLUGINS__SKIP_BROKEN", "true")
    with pytest.raises(AssertionError, match="started serving"):
        CliRunner().invoke(main, ["serve", "--port", "8765"], catch_exceptions=False)

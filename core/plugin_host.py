"""Finding, validating and calling plugins.

The plugin manager is built per app (never a module global), so tests can build apps with
chosen plugins. Every call from the core to a plugin goes through `PluginHost.call`/`first`,
which keep only the plugins enabled for the tenant, await async implementations and isolate
failures of render slots and events.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from arportal import hookspecs
from arportal.declarations import CustomerToggle, Feature, Job, SettingsSection

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.context import TenantContext

log = logging.getLogger("arportal.plugins")

ENTRY_POINT_GROUP = "arportal.plugins"
CORE_PLUGIN = "core"
BUILTIN_PREFIX = "arportal.plugins."


class PluginError(RuntimeError):
    """A plugin cannot be loaded; the message names the plugin."""


@dataclass
class PluginInfo:
    name: str
    version: str
    builtin: bool
    module: str
    enabled: bool = True
    error: str | None = None


@dataclass
class Declarations:
    features: dict[str, tuple[Feature, str]] = field(default_factory=dict)
    toggles: dict[str, tuple[CustomerToggle, str]] = field(default_factory=dict)
    sections: dict[str, tuple[SettingsSection, str]] = field(default_factory=dict)
    jobs: list[tuple[Job, str]] = field(default_factory=list)
    piccolo_apps: list[str] = field(default_factory=list)
    template_dirs: dict[str, list[str]] = field(default_factory=dict)
    portal_routes: list[tuple[Any, str]] = field(default_factory=list)
    admin_routes: list[tuple[Any, str]] = field(default_factory=list)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def core_version() -> str:
    from arportal import __version__

    return __version__


def _check_compatible(name: str, plugin: Any) -> None:
    requires = getattr(plugin, "ARPORTAL_REQUIRES", None)
    if not requires:
        return
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        raise PluginError(f"plugin {name!r}: ARPORTAL_REQUIRES {requires!r} is not a version range") from None
    if Version(core_version()) not in spec:
        raise PluginError(
            f"plugin {name!r} supports arportal {requires}, this is arportal {core_version()}"
        )


def discover(config: Config) -> tuple[list[tuple[str, Any]], list[PluginInfo]]:
    """Load the plugins registered under the entry-point group, as the config allows."""
    loaded: list[tuple[str, Any]] = []
    infos: list[PluginInfo] = []
    wanted = config.plugins.enabled
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = entry_point.dist
        version = dist.version if dist else "?"
        builtin = entry_point.value.startswith(BUILTIN_PREFIX)
        info = PluginInfo(entry_point.name, version, builtin, entry_point.value)
        infos.append(info)
        if entry_point.name in config.plugins.disabled or (
            wanted is not None and entry_point.name not in wanted
        ):
            info.enabled = False
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:
            info.enabled = False
            info.error = f"{type(exc).__name__}: {exc}"
            message = f"plugin {entry_point.name!r} failed to import: {info.error}"
            if not config.plugins.skip_broken:
                raise PluginError(message + " (set plugins.skip_broken = true to start without it)") from exc
            log.error(message)
            continue
        loaded.append((entry_point.name, plugin))
    return loaded, infos


class PluginHost:
    def __init__(self, plugins: list[tuple[str, Any]], infos: list[PluginInfo] | None = None):
        from arportal import core_hooks

        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos = infos or []
        self.pm.register(core_hooks, name=CORE_PLUGIN)
        for name, plugin in plugins:
            _check_compatible(name, plugin)
            self.pm.register(plugin, name=name)
            if not any(info.name == name for info in self.infos):
                self.infos.append(PluginInfo(name, getattr(plugin, "__version__", "?"), False, getattr(plugin, "__name__", name)))
        for extra in self.pm.hook.arportal_hookspecs():
            for spec in _as_list(extra):
                self.pm.add_hookspecs(spec)
        self._validate()
        self.declarations = self._collect()
        self.plugin_features: dict[str, set[str]] = {}
        for key, (_feature, plugin_name) in self.declarations.features.items():
            self.plugin_features.setdefault(plugin_name, set()).add(key)
        self.plugin_toggles: dict[str, set[str]] = {}
        for key, (_toggle, plugin_name) in self.declarations.toggles.items():
            self.plugin_toggles.setdefault(plugin_name, set()).add(key)

    @property
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin() if name != CORE_PLUGIN]

    def _validate(self) -> None:
        for name, plugin in self.pm.list_name_plugin():
            for hook_name in dir(plugin):
                if not hook_name.startswith("arportal_"):
                    continue
                caller = getattr(self.pm.hook, hook_name, None)
                if caller is None or not caller.has_spec():
                    raise PluginError(f"plugin {name!r} implements unknown hook {hook_name!r}")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {exc.plugin!r}: {exc}") from None

    def _collect(self) -> Declarations:
        decl = Declarations()
        for impl, value in self._call_all_sync("arportal_features"):
            for feature in _as_list(value):
                self._claim(decl.features, feature.key, feature, impl.plugin_name, "feature")
        for impl, value in self._call_all_sync("arportal_customer_toggles"):
            for toggle in _as_list(value):
                self._claim(decl.toggles, toggle.key, toggle, impl.plugin_name, "customer toggle")
        for impl, value in self._call_all_sync("arportal_settings"):
            for section in _as_list(value):
                self._claim(decl.sections, section.key, section, impl.plugin_name, "settings section")
        for impl, value in self._call_all_sync("arportal_jobs"):
            decl.jobs.extend((job, impl.plugin_name) for job in _as_list(value))
        for _impl, value in self._call_all_sync("arportal_piccolo_app"):
            decl.piccolo_apps.extend(_as_list(value))
        for impl, value in self._call_all_sync("arportal_template_dirs"):
            decl.template_dirs.setdefault(impl.plugin_name, []).extend(str(v) for v in _as_list(value))
        for impl, value in self._call_all_sync("arportal_portal_routes"):
            decl.portal_routes.extend((route, impl.plugin_name) for route in _as_list(value))
        for impl, value in self._call_all_sync("arportal_admin_routes"):
            decl.admin_routes.extend((route, impl.plugin_name) for route in _as_list(value))
        return decl

    @staticmethod
    def _claim(target: dict[str, Any], key: str, item: Any, plugin: str, what: str) -> None:
        if key in target:
            raise PluginError(f"plugin {plugin!r}: {what} {key!r} is already declared by {target[key][1]!r}")
        target[key] = (item, plugin)

    def _impls(self, hook_name: str) -> list[Any]:
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def _call_all_sync(self, hook_name: str) -> list[tuple[Any, Any]]:
        results = []
        for impl in self._impls(hook_name):
            value = impl.function()
            if inspect.isawaitable(value):
                raise PluginError(f"plugin {impl.plugin_name!r}: {hook_name} must not be async")
            results.append((impl, value))
        return results

    # --- Per-tenant dispatch ------------------------------------------------------------

    def plugin_enabled(self, plugin_name: str, ctx: TenantContext | None) -> bool:
        """A plugin with features is present only while one of them is on for the tenant;
        a plugin with customer toggles, for a customer, only while one of them is on."""
        if plugin_name == CORE_PLUGIN or ctx is None:
            return True
        features = self.plugin_features.get(plugin_name)
        if features and not any(ctx.feature_enabled(key) for key in features):
            return False
        toggles = self.plugin_toggles.get(plugin_name)
        if toggles and ctx.customer is not None:
            return any(ctx.toggle_enabled(key) for key in toggles)
        return True

    async def call(self, hook_name: str, ctx: TenantContext | None, *, isolate: bool = True, **kwargs: Any) -> list[Any]:
        """Call a hook for the plugins enabled for `ctx`, awaiting async answers.

        With `isolate` (slots, holds, events) a plugin that raises is logged and left out.
        """
        results = []
        for impl in self._impls(hook_name):
            if not self.plugin_enabled(impl.plugin_name, ctx):
                continue
            args = {name: kwargs[name] if name != "ctx" else ctx for name in impl.argnames}
            try:
                value = impl.function(**args)
                if inspect.isawaitable(value):
                    value = await value
            except Exception:
                if not isolate:
                    raise
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
                continue
            if value is not None:
                results.append(value)
        return results

    async def first(self, hook_name: str, ctx: TenantContext | None, **kwargs: Any) -> Any:
        for impl in self._impls(hook_name):
            if not self.plugin_enabled(impl.plugin_name, ctx):
                continue
            args = {name: kwargs[name] if name != "ctx" else ctx for name in impl.argnames}
            try:
                value = impl.function(**args)
                if inspect.isawaitable(value):
                    value = await value
            except Exception:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
                continue
            if value is not None:
                return value
        return None

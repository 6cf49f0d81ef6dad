"""Finding, validating and calling plugins.

The plugin manager is built per app (never a module global), so tests can build apps with
chosen plugins. Every call from the core to a plugin goes through `PluginHost.call`/`first`,
which keep only the plugins enabled for the tenant, await async implementations and isolate
failures of render slots and events.

Start-up refuses, with the plugin's name in the message: an implementation of an `arportal_`
hook that does not exist (a typo) or a near miss of a hook a loaded plugin adds, arguments a
hook does not offer, a declaration of the wrong type or one already made by another plugin, a
Piccolo app that does not import, a template folder that does not exist, a route tagged with a
feature or toggle nobody declares, an import that fails (unless `plugins.skip_broken`), and a
plugin whose `ARPORTAL_REQUIRES` excludes this core version.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy
from markupsafe import Markup
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from arportal import hookspecs
from arportal.declarations import CustomerToggle, Feature, Job, SettingsSection
from arportal.processes import ProcessPool

if TYPE_CHECKING:
    from jinja2 import Environment

    from arportal.config import Config
    from arportal.context import TenantContext

log = logging.getLogger("arportal.plugins")

ENTRY_POINT_GROUP = "arportal.plugins"
CORE_PLUGIN = "core"
BUILTIN_PREFIX = "arportal.plugins."
HOOK_PREFIX = "arportal_"


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


def check_compatible(name: str, plugin: Any) -> None:
    """Refuse a plugin whose `ARPORTAL_REQUIRES` (a version range) excludes this core."""
    requires = getattr(plugin, "ARPORTAL_REQUIRES", None)
    if not requires:
        return
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        raise PluginError(
            f"plugin {name!r}: ARPORTAL_REQUIRES {requires!r} is not a version range"
        ) from None
    if Version(core_version()) not in spec:
        raise PluginError(
            f"plugin {name!r} requires arportal {requires}, but this is arportal "
            f"{core_version()}: install a version of the plugin made for it, or disable it "
            f"with plugins.disabled = [{name!r}]"
        )


def _check_piccolo_app(plugin: str, module_name: str) -> None:
    """The module `arportal_piccolo_app` names must import and hold an `APP_CONFIG`."""
    from piccolo.conf.apps import AppConfig

    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(
            f"plugin {plugin!r}: its Piccolo app {module_name!r} failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(getattr(module, "APP_CONFIG", None), AppConfig):
        raise PluginError(
            f"plugin {plugin!r}: its Piccolo app {module_name!r} has no APP_CONFIG "
            "(a piccolo.conf.apps.AppConfig)"
        )


def _plugin_version(plugin: Any) -> str:
    version = getattr(plugin, "__version__", None)
    if version is None:
        package = sys.modules.get(getattr(plugin, "__name__", "").split(".")[0])
        version = getattr(package, "__version__", None)
    return str(version or "?")


def discover(
    config: Config, *, strict: bool = True
) -> tuple[list[tuple[str, Any]], list[PluginInfo]]:
    """Load the plugins registered under the entry-point group, as the config allows.

    A plugin that cannot be loaded (its import fails, or it does not support this core)
    stops start-up with its name in the message, unless `plugins.skip_broken` is set: then it
    is logged, left out, and reported by `arportal plugins list`. `strict=False` (for that
    listing) never raises: every problem is only recorded in the `PluginInfo.error`s.
    """
    loaded: list[tuple[str, Any]] = []
    infos: list[PluginInfo] = []
    wanted = config.plugins.enabled
    seen: dict[str, str] = {}
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry_point.name in seen:
            raise PluginError(
                f"plugin {entry_point.name!r} is installed twice ({seen[entry_point.name]} and "
                f"{entry_point.value}): uninstall one"
            )
        seen[entry_point.name] = entry_point.value
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
            check_compatible(entry_point.name, plugin)
        except Exception as exc:
            info.enabled = False
            if isinstance(exc, PluginError):
                info.error = str(exc)
                message = str(exc)
            else:
                info.error = f"{type(exc).__name__}: {exc}"
                message = f"plugin {entry_point.name!r} failed to import: {info.error}"
            if strict and not config.plugins.skip_broken:
                raise PluginError(
                    message + " (set plugins.skip_broken = true to start without it)"
                ) from exc
            log.error("%s; starting without it", message)
            continue
        loaded.append((entry_point.name, plugin))
    missing = sorted(set(wanted or ()) - set(seen))
    if missing and strict:
        raise PluginError(
            f"plugins.enabled names {', '.join(map(repr, missing))}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed"
        )
    return loaded, infos


class PluginHost:
    def __init__(self, plugins: list[tuple[str, Any]], infos: list[PluginInfo] | None = None):
        from arportal import core_hooks

        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._impl_cache: dict[str, list[Any]] = {}
        self._required_args: dict[str, tuple[str, ...]] = {}
        self.pm.add_hookspecs(hookspecs)
        self.infos = infos or []
        self.jinja: Environment | None = None
        """The app's Jinja environment, set by the app factory (for `render_fragment`)."""
        self.processes = ProcessPool()
        """Worker processes for CPU-bound work; the app factory sizes it from the config."""
        self.pm.register(core_hooks, name=CORE_PLUGIN)
        for name, plugin in plugins:
            self._register(name, plugin)
            if not any(info.name == name for info in self.infos):
                module = getattr(plugin, "__name__", name)
                self.infos.append(PluginInfo(name, _plugin_version(plugin), False, module))
        self._add_plugin_hookspecs()
        self._validate()
        self.declarations = self._collect()
        self.plugin_features: dict[str, set[str]] = {}
        for key, (_feature, plugin_name) in self.declarations.features.items():
            self.plugin_features.setdefault(plugin_name, set()).add(key)

    @property
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin() if name != CORE_PLUGIN]

    # --- Loading and validation -------------------------------------------------------

    def _register(self, name: str, plugin: Any) -> None:
        check_compatible(name, plugin)
        if name == CORE_PLUGIN or self.pm.has_plugin(name):
            raise PluginError(f"plugin {name!r}: the name is already taken")
        self._check_arguments(name, plugin)
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            reason = str(exc).replace("\n", "; ")
            raise PluginError(f"plugin {name!r}: {reason}") from None

    def _check_arguments(self, name: str, plugin: Any) -> None:
        """An implementation may take a subset of its hook's arguments, never one the hook
        does not offer (pluggy would refuse it with a longer message)."""
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            hook_name = opts.get("specname") or attr
            caller = getattr(self.pm.hook, hook_name, None)
            if caller is None or caller.spec is None:
                continue
            parameters = inspect.signature(getattr(plugin, attr)).parameters.values()
            wanted = [
                p.name for p in parameters
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
            ]
            extra = [arg for arg in wanted if arg not in caller.spec.argnames]
            if extra:
                offered = ", ".join(caller.spec.argnames) or "no arguments"
                raise PluginError(
                    f"plugin {name!r}: {attr}() takes {', '.join(extra)}, which {hook_name} "
                    f"does not offer (it offers {offered})"
                )

    def _add_plugin_hookspecs(self) -> None:
        for impl in self._impls("arportal_hookspecs"):
            value = self._declare(impl, "arportal_hookspecs")
            for spec in _as_list(value):
                try:
                    self.pm.add_hookspecs(spec)
                except pluggy.PluginValidationError as exc:
                    reason = str(exc).replace("\n", "; ")
                    raise PluginError(f"plugin {self._name_of(exc.plugin)!r}: {reason}") from None
                except ValueError as exc:
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: arportal_hookspecs answered {spec!r}, "
                        f"which has no hook specifications ({exc})"
                    ) from None

    def _name_of(self, plugin: Any) -> str:
        return self.pm.get_name(plugin) or repr(plugin)

    def _validate(self) -> None:
        """Fail loudly on a misspelled hook, like pluggy's `check_pending`, but with the
        plugin's name and a suggestion. Attributes that are not marked `@hookimpl` are not
        hooks and are left alone (a function merely named like a hook gets a warning)."""
        core_names = {name for name in vars(self.pm.hook) if name.startswith(HOOK_PREFIX)}
        spec_names = [
            name for name, caller in vars(self.pm.hook).items()
            if isinstance(caller, pluggy.HookCaller) and caller.has_spec()
        ]
        for hook_name, caller in vars(self.pm.hook).items():
            if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                prefix = hook_name.split("_", 1)[0] + "_"
                same_family = [name for name in spec_names if name.startswith(prefix)]
                close = difflib.get_close_matches(hook_name, same_family, n=1)
                if hook_name.startswith(HOOK_PREFIX) or close:
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} implements unknown hook {hook_name!r}{hint}"
                    )
                log.warning(
                    "plugin %r implements %r, which no loaded plugin declares; it is never called",
                    impl.plugin_name, hook_name,
                )
        for name, plugin in self.pm.list_name_plugin():
            for impl in self._plugin_impls(plugin):
                if impl.hookwrapper or impl.wrapper:
                    raise PluginError(
                        f"plugin {name!r}: {impl.function.__name__} is a hook wrapper; arportal "
                        "calls each implementation itself and does not support wrappers"
                    )
            marked = {impl.function.__name__ for impl in self._plugin_impls(plugin)}
            for attr in sorted(core_names - marked):
                if callable(getattr(plugin, attr, None)):
                    log.warning(
                        "plugin %r defines %s() without @arportal.hookimpl; it is not called",
                        name, attr,
                    )

    def _plugin_impls(self, plugin: Any) -> list[Any]:
        return [
            impl
            for caller in vars(self.pm.hook).values()
            if isinstance(caller, pluggy.HookCaller)
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        ]

    def _declare(self, impl: Any, hook_name: str) -> Any:
        """Call a declaration hook (sync, no arguments) with errors that name the plugin."""
        try:
            value = impl.function()
        except Exception as exc:
            raise PluginError(
                f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
            ) from exc
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise PluginError(
                f"plugin {impl.plugin_name!r}: {hook_name} is called once at start-up and "
                "must not be async"
            )
        return value

    def _declared(self, hook_name: str, kind: type | tuple[type, ...]) -> list[tuple[Any, str]]:
        """Declarations in registration order (the core first, then plugins by name), so a
        conflict is blamed on the later plugin."""
        items = []
        for impl in reversed(self._impls(hook_name)):
            for item in _as_list(self._declare(impl, hook_name)):
                if not isinstance(item, kind):
                    kinds = kind if isinstance(kind, tuple) else (kind,)
                    expected = " or ".join(k.__name__ for k in kinds)
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: {hook_name} must answer {expected} "
                        f"objects, got {type(item).__name__}"
                    )
                items.append((item, impl.plugin_name))
        return items

    def _collect(self) -> Declarations:
        decl = Declarations()
        for feature, plugin in self._declared("arportal_features", Feature):
            self._claim(decl.features, feature.key, feature, plugin, "feature")
        for toggle, plugin in self._declared("arportal_customer_toggles", CustomerToggle):
            self._claim(decl.toggles, toggle.key, toggle, plugin, "customer toggle")
        for section, plugin in self._declared("arportal_settings", SettingsSection):
            self._claim(decl.sections, section.key, section, plugin, "settings section")
        names: dict[str, Any] = {}
        for job, plugin in self._declared("arportal_jobs", Job):
            self._claim(names, job.name, job, plugin, "job")
            decl.jobs.append((job, plugin))
        for app_module, plugin in self._declared("arportal_piccolo_app", str):
            _check_piccolo_app(plugin, app_module)
            decl.piccolo_apps.append(app_module)
        for folder, plugin in self._declared("arportal_template_dirs", (str, os.PathLike)):
            if not os.path.isdir(folder):
                raise PluginError(
                    f"plugin {plugin!r}: arportal_template_dirs answered {str(folder)!r}, which "
                    "is not a folder (are the templates in the package data?)"
                )
            decl.template_dirs.setdefault(plugin, []).append(str(folder))
        decl.portal_routes = self._declared("arportal_portal_routes", object)
        decl.admin_routes = self._declared("arportal_admin_routes", object)
        for key, (toggle, plugin) in decl.toggles.items():
            if toggle.feature and toggle.feature not in decl.features:
                raise PluginError(
                    f"plugin {plugin!r}: customer toggle {key!r} names feature "
                    f"{toggle.feature!r}, which no plugin declares"
                )
        for key, (section, plugin) in decl.sections.items():
            if section.feature and section.feature not in decl.features:
                raise PluginError(
                    f"plugin {plugin!r}: settings section {key!r} names feature "
                    f"{section.feature!r}, which no plugin declares"
                )
            unknown = set(section.required_when_on) - set(section.schema.__struct_fields__)
            if unknown or (section.required_when_on and not section.feature):
                raise PluginError(
                    f"plugin {plugin!r}: settings section {key!r}: required_when_on needs a "
                    f"feature and names fields of its Struct (unknown: {sorted(unknown)})"
                )
        for job, plugin in decl.jobs:
            if job.feature and job.feature not in decl.features:
                raise PluginError(
                    f"plugin {plugin!r}: job {job.name!r} names feature {job.feature!r}, "
                    "which no plugin declares"
                )
        return decl

    def check_routes(self, routes: list[Any]) -> None:
        """The `feature` and `toggle` tags of every plugin route (as mounted: a Router's or a
        Controller's `opt` included) name declared ones; a typo would hide the route for
        ever, since an unknown feature is never on."""
        kinds: dict[str, dict[str, Any]] = {
            "feature": self.declarations.features, "toggle": self.declarations.toggles
        }
        for route in routes:
            for handler in getattr(route, "route_handlers", ()):
                plugin = handler.opt.get("plugin")
                for tag, declared in kinds.items():
                    key = handler.opt.get(tag)
                    if plugin and key is not None and key not in declared:
                        raise PluginError(
                            f"plugin {plugin!r}: route {route.path} is tagged {tag} {key!r}, "
                            f"which no plugin declares"
                        )

    @staticmethod
    def _claim(target: dict[str, Any], key: str, item: Any, plugin: str, what: str) -> None:
        if key in target:
            raise PluginError(
                f"plugin {plugin!r}: {what} {key!r} is already declared by {target[key][1]!r}"
            )
        target[key] = (item, plugin)

    def _impls(self, hook_name: str) -> list[Any]:
        """The implementations in calling order (the last registered first, as pluggy calls
        them, so the core's own answers come last). Plugins are only registered in
        `__init__`, so the list is computed once per hook."""
        impls = self._impl_cache.get(hook_name)
        if impls is None:
            caller = getattr(self.pm.hook, hook_name, None)
            if caller is None:
                raise AttributeError(f"no hook named {hook_name!r} is declared")
            impls = list(reversed(caller.get_hookimpls()))
            self._impl_cache[hook_name] = impls
        return impls

    def _check_call(self, hook_name: str, kwargs: dict[str, Any]) -> None:
        """A call must pass every argument of the hook (the core's bug otherwise, which must
        not be logged as the plugin's failure)."""
        required = self._required_args.get(hook_name)
        if required is None:
            caller = getattr(self.pm.hook, hook_name, None)
            spec = getattr(caller, "spec", None)
            required = () if spec is None else tuple(a for a in spec.argnames if a != "ctx")
            self._required_args[hook_name] = required
        missing = [a for a in required if a not in kwargs]
        if missing:
            raise TypeError(f"{hook_name} called without {', '.join(missing)}")

    # --- Per-tenant dispatch ------------------------------------------------------------

    def plugin_enabled(
        self, plugin_name: str, ctx: TenantContext | None, *, setup: bool = False
    ) -> bool:
        """A plugin with features is present for a tenant only while one of them is on (and
        has what it `requires`; with `setup`, for routes tagged so, switched on is enough).

        Customer toggles do not remove a plugin: a customer with a toggle off may still need
        the plugin's panel (to read why, or to opt in). They gate the routes tagged with
        `opt={"toggle": key}`, and slot implementations read `ctx.toggle_enabled(key)`.
        """
        if plugin_name == CORE_PLUGIN or ctx is None:
            return True
        features = self.plugin_features.get(plugin_name)
        if not features:
            return True
        if setup:
            return any(ctx.feature_switched_on(key) for key in features)
        return any(ctx.feature_enabled(key) for key in features)

    def enabled_plugins(self, ctx: TenantContext | None) -> list[str]:
        return [name for name in self.plugin_names if self.plugin_enabled(name, ctx)]

    async def _run(self, impl: Any, ctx: TenantContext | None, kwargs: dict[str, Any]) -> Any:
        args = {name: ctx if name == "ctx" else kwargs[name] for name in impl.argnames}
        value = impl.function(**args)
        if inspect.isawaitable(value):
            value = await value
        return value

    async def call(
        self, hook_name: str, ctx: TenantContext | None, *, isolate: bool = True, **kwargs: Any
    ) -> list[Any]:
        """Call a hook for the plugins enabled for `ctx`, awaiting async answers; None answers
        are left out.

        With `isolate` (slots, events) a plugin that raises is logged with its name and left
        out. Pass `isolate=False` where a missing answer would be unsafe (holds: an invoice
        wrongly not on hold gets charged), and handle the error there.
        """
        self._check_call(hook_name, kwargs)
        results = []
        for impl in self._impls(hook_name):
            if not self.plugin_enabled(impl.plugin_name, ctx):
                continue
            try:
                value = await self._run(impl, ctx, kwargs)
            except Exception:
                if not isolate:
                    raise
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
                continue
            if value is not None:
                results.append(value)
        return results

    async def call_by_plugin(
        self, hook_name: str, ctx: TenantContext | None, *, isolate: bool = False,
        **kwargs: Any,
    ) -> list[tuple[str, Any]]:
        """Like `call`, with each answer paired with the plugin's name. Without `isolate` a
        plugin that raises stops the call (PluginError naming it)."""
        self._check_call(hook_name, kwargs)
        results = []
        for impl in self._impls(hook_name):
            if not self.plugin_enabled(impl.plugin_name, ctx):
                continue
            try:
                value = await self._run(impl, ctx, kwargs)
            except Exception as exc:
                if isolate:
                    log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
                    continue
                reason = f"{type(exc).__name__}: {exc}"
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {reason}"
                ) from exc
            if value is not None:
                results.append((impl.plugin_name, value))
        return results

    async def first(self, hook_name: str, ctx: TenantContext | None, **kwargs: Any) -> Any:
        """The first non-None answer of the plugins enabled for `ctx` (a raising plugin is
        logged and skipped)."""
        self._check_call(hook_name, kwargs)
        for impl in self._impls(hook_name):
            if not self.plugin_enabled(impl.plugin_name, ctx):
                continue
            try:
                value = await self._run(impl, ctx, kwargs)
            except Exception:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
                continue
            if value is not None:
                return value
        return None

    def render(self, template_name: str, **context: Any) -> Markup:
        if self.jinja is None:
            from arportal.templating import build_environment

            self.jinja = build_environment(self, None)
        return Markup(self.jinja.get_template(template_name).render(**context))  # noqa: S704


def render_fragment(ctx: TenantContext, template_name: str, /, **context: Any) -> Markup:
    """Render a template (`"<plugin>:<file>"`, autoescaped) to HTML a render slot can answer.

    `ctx` is passed to the template as `ctx`. Plain strings answered by a slot are escaped by
    the core; the Markup this returns is drawn as HTML.
    """
    return ctx.host.render(template_name, ctx=ctx, **context)


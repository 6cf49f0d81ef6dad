"""What a hook or a route knows about the tenant (and, on the portal, the customer) it serves."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from litestar.di import NamedDependency

from arportal.settings import PortalSettings, decode_section

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.plugin_host import PluginHost

log = logging.getLogger("arportal.plugins")
T = TypeVar("T")


@dataclass
class TenantContext:
    """What a hook, a job or an admin route knows about its tenant: `tenant_id`, `slug`,
    `name`, `settings(section)`, `feature_enabled(key)`, `toggle_enabled(key)`, `today()`,
    and `call`/`first` to ask the enabled plugins; `customer` when it serves one."""

    tenant_id: int
    slug: str
    name: str
    host: PluginHost
    config: Config
    settings_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    feature_values: dict[str, bool] = field(default_factory=dict)
    customer: Any = None
    """The customer row (a dict) on portal pages and customer-scoped jobs, else None."""
    toggle_values: dict[str, bool] = field(default_factory=dict)
    actor: str = "system"
    _decoded: dict[str, msgspec.Struct] = field(default_factory=dict, repr=False)

    # --- features, toggles, settings -----------------------------------------------------

    def feature_switched_on(self, key: str) -> bool:
        """The tenant's switch (or the feature's default), whatever the feature requires."""
        if key in self.feature_values:
            return self.feature_values[key]
        declared = self.host.declarations.features.get(key)
        return bool(declared and declared[0].default)

    def feature_missing(self, key: str) -> str | None:
        """What the feature still requires of this tenant (`Feature.requires`), in words, or
        None. A `requires` that raises counts as missing (the feature stays off)."""
        declared = self.host.declarations.features.get(key)
        if declared is None or declared[0].requires is None:
            return None
        try:
            return declared[0].requires(self)
        except Exception as exc:
            log.exception("plugin %r: the requirement of feature %r failed", declared[1], key)
            return f"the feature's requirement could not be checked: {type(exc).__name__}"

    def feature_enabled(self, key: str) -> bool:
        """Switched on and nothing it requires is missing: the feature exists for the tenant."""
        return self.feature_switched_on(key) and self.feature_missing(key) is None

    def features(self) -> dict[str, bool]:
        """Every feature's switch, as the operator set it (`GET /api/v1/settings`)."""
        return {key: self.feature_switched_on(key) for key in self.host.declarations.features}

    def toggle_enabled(self, key: str) -> bool:
        if key in self.toggle_values:
            return self.toggle_values[key]
        declared = self.host.declarations.toggles.get(key)
        return bool(declared and declared[0].default)

    def settings(self, section: str) -> Any:
        """The section's Struct, with defaults for what the tenant never set."""
        if section not in self._decoded:
            declared = self.host.declarations.sections.get(section)
            if declared is None:
                raise KeyError(f"no settings section {section!r} is declared")
            schema = declared[0].schema
            self._decoded[section] = decode_section(
                section, schema, self.settings_data.get(section, {})
            )
        return self._decoded[section]

    @property
    def portal_settings(self) -> PortalSettings:
        return self.settings("portal")  # type: ignore[no-any-return]

    # --- time -------------------------------------------------------------------------------

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.portal_settings.timezone)

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.timezone)

    def today(self) -> dt.date:
        """Today in the tenant's time zone (frozen by `arportal.testing` in tests)."""
        from arportal.clock import today_in

        return today_in(self.timezone)

    # --- plugin calls -------------------------------------------------------------------------

    async def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        return await self.host.call(hook_name, self, **kwargs)

    async def first(self, hook_name: str, **kwargs: Any) -> Any:
        return await self.host.first(hook_name, self, **kwargs)

    async def run_in_process(self, fn: Callable[..., T], /, *args: Any) -> T:
        """`fn(*args)` in one of the app's worker processes, off the event loop (for CPU-bound
        work such as PDF layout). `fn` must be a module-level function; arguments and result
        must pickle."""
        return await self.host.processes.run(fn, *args)

    @property
    def process_workers(self) -> int:
        """How many worker processes `run_in_process` can use at once."""
        return self.host.processes.size

    def route_enabled(self, opt: dict[str, Any]) -> bool:
        """Whether a route tagged with `opt` exists for this tenant (and customer): its
        `feature` on, its `toggle` on, and its `plugin` present. Guards answer 404 if not.

        A route tagged `keep_when_disabled` stays while its plugin is off (an admin route
        that reads or settles what the plugin kept); its own `feature` tag still applies.
        A route tagged `setup` (one that helps configure a feature, e.g. a connection test)
        only needs the switches on: it exists while the feature still misses what it
        `requires`, so it can say what that is."""
        setup = bool(opt.get("setup"))
        feature = opt.get("feature")
        if feature and not (
            self.feature_switched_on(feature) if setup else self.feature_enabled(feature)
        ):
            return False
        toggle = opt.get("toggle")
        if toggle and self.customer is not None and not self.toggle_enabled(toggle):
            return False
        owner = opt.get("plugin")
        if not owner or opt.get("keep_when_disabled"):
            return True
        return self.host.plugin_enabled(owner, self, setup=setup)

    def for_customer(self, customer: Any, toggles: dict[str, bool]) -> TenantContext:
        """A copy scoped to one customer (for jobs and events about that customer)."""
        return TenantContext(
            tenant_id=self.tenant_id,
            slug=self.slug,
            name=self.name,
            host=self.host,
            config=self.config,
            settings_data=self.settings_data,
            feature_values=self.feature_values,
            customer=customer,
            toggle_values=toggles,
            actor=self.actor,
            _decoded=self._decoded,
        )


@dataclass
class PortalContext(TenantContext):
    """A customer's portal request. `base` is where portal URLs start (`/portal` once the
    link became a session, or `/p/<token>`)."""

    link_id: int = 0
    base: str = "/portal"
    locale: str = "en"
    csrf_token: str = ""
    csp_sources: dict[str, list[str]] = field(default_factory=dict)

    def url(self, path: str = "") -> str:
        return self.base.rstrip("/") + "/" + path.lstrip("/")

    def allow_csp_sources(self, directive: str, *sources: str) -> None:
        """Let this response load from more https origins than the portal's strict policy
        (e.g. a payment provider's script and frame on the page that collects a card):
        `portal.allow_csp_sources("script-src", "https://js.example.com")`. Only for
        script-src, frame-src, connect-src, img-src and style-src, only https origins:
        inline script stays forbidden. Raises ValueError for anything else."""
        from arportal.security import check_csp_source

        for source in sources:
            check_csp_source(directive, source)
        listed = self.csp_sources.setdefault(directive, [])
        listed.extend(source for source in sources if source not in listed)


if TYPE_CHECKING:
    PortalDep = NamedDependency[PortalContext]
    TenantDep = NamedDependency[TenantContext]
else:
    # At run time the value is not validated: Litestar's signature model would ask msgspec to
    # convert the dataclass, which evaluates its annotations (names imported only for type
    # checking) and fails, besides copying the context on every request.
    PortalDep = NamedDependency[Any]
    TenantDep = NamedDependency[Any]
"""Annotate a portal handler's `portal` parameter with `PortalDep` to receive the
PortalContext, an admin handler's `tenant` parameter with `TenantDep` for the TenantContext."""

"""The plugin contract: every hook a plugin may implement.

A plugin is a module (or object) registered through the `arportal.plugins` entry-point group,
whose functions are marked with `arportal.hookimpl` and named after the specifications below.
An implementation may accept any subset of a hook's arguments; arguments are only ever added,
so a plugin written for an older core keeps working.

Declaration hooks are called once at start-up and their answers merged. Render slots, holds
and events are called per request or per change, only for the plugins enabled for the tenant
(a plugin whose every feature is off is not called), and a plugin that raises in one of them is
logged with its name and left out: it never takes the page down. Any hook may be `async def`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from arportal.context import TenantContext
    from arportal.declarations import (
        Charge,
        CustomerToggle,
        Feature,
        Hold,
        Job,
        MailSender,
        SettingsSection,
        Theme,
    )

PROJECT = "arportal"
hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification, for a plugin that declares hooks of its own."""
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's implementation of a hook: `@hookimpl` on a function named after it."""


# --- Declarations: called once at start-up ------------------------------------------------


@hookspec
def arportal_features() -> list[Feature]:
    """Org-level switches this plugin contributes (key, label, default).

    A tenant switches them in `settings.features`. When every feature of a plugin is off for a
    tenant, the plugin is absent for that tenant: routes tagged with its features answer 404,
    its slots, holds, events and jobs are not called. A feature with `requires` (say, a
    configured connection) is likewise absent until the tenant has what it requires.
    """


@hookspec
def arportal_customer_toggles() -> list[CustomerToggle]:
    """Customer-level switches (key, label, default or a default taken from a tenant setting).

    A portal route whose `opt` has `toggle="key"` answers 404 for a customer with it off.
    """


@hookspec
def arportal_settings() -> list[SettingsSection]:
    """Settings sections: a key and a msgspec Struct with defaults, validated on write.

    A section may name its `feature` and fields `required_when_on`: switching the feature on,
    or saving the section while it is on, is refused while one of them is empty.
    """


@hookspec
def arportal_piccolo_app() -> str | None:
    """The import path of this plugin's Piccolo app module (a module with `APP_CONFIG`).

    Tables are named `<plugin>_<table>`; migrations declare the core app
    (`arportal.piccolo_app`) as a dependency and are run by `arportal migrate` and at start.
    """


@hookspec
def arportal_portal_routes() -> list[Any]:
    """Litestar route handlers or Routers mounted under the customer's portal.

    Paths are relative to the portal root (`/portal` after the link is exchanged for a
    session, or `/p/<token>` directly). Tag each with `opt={"feature": "key"}` and/or
    `opt={"toggle": "key"}`: the core answers 404 when it is off. Handlers receive the
    `PortalContext` as the `portal` dependency.

    A route tagged `opt={"public": True}` is reached without a customer (no link, no
    session; e.g. a confirmation link mailed to an operator): it must not take `portal`, and
    it finds its tenant itself (from a signed or hashed token in its path).
    """


@hookspec
def arportal_admin_routes() -> list[Any]:
    """Litestar route handlers or Routers mounted under `/api/v1`, authenticated by API key.

    Handlers receive the `TenantContext` as the `tenant` dependency. Tag with
    `opt={"feature": "key"}` to answer 404 while the feature is off. A route the operator
    still needs while every feature of the plugin is off (reading the records it kept,
    settling them) is tagged `opt={"keep_when_disabled": True}` and no feature. Add
    `"setup": True` to a route that helps configure the feature (a connection test): it
    answers while the feature is switched on but still misses what its `Feature.requires`
    asks for.
    """


@hookspec
def arportal_template_dirs() -> list[str]:
    """Folders of Jinja templates, reachable as `"<plugin name>:<template>"`."""


@hookspec
def arportal_jobs() -> list[Job]:
    """Idempotent async jobs run by `arportal jobs run` and by `arportal serve`."""


@hookspec
def arportal_hookspecs() -> list[Any]:
    """Modules or classes of further hook specifications, for plugins extended in turn."""


@hookspec
def arportal_demo_settings() -> dict[str, Any] | None:
    """A settings patch for the `demo` tenant that `arportal serve --demo` seeds: the same
    shape as `PATCH /api/v1/settings` (`{"features": {...}, "<your section>": {...}}`), so a
    first look at arportal shows your feature working. Applied (and validated) once, before
    the demo customers are created, each plugin's patch on its own: a patch that fails
    validation is logged and left out.
    """


# --- Render slots: called per page ---------------------------------------------------------


@hookspec
def arportal_invoice_actions(ctx: TenantContext, invoice: Any) -> list[str] | str | None:
    """HTML (Markup) of buttons or forms shown with an invoice on the portal."""


@hookspec
def arportal_invoice_badges(ctx: TenantContext, invoices: list[Any]) -> dict[int, list[str]]:
    """Badges for many invoices at once: `{invoice_id: ["Disputed: pricing", ...]}`."""


@hookspec
def arportal_customer_charges(ctx: TenantContext) -> list[Charge]:
    """Amounts the portal's customer (`ctx.customer`) owes on top of open invoices (late fees,
    interest): each is drawn under its invoice and counted in the balance. Asked once per
    page for the whole customer, so answer with one query."""


@hookspec
def arportal_portal_panels(ctx: TenantContext) -> list[str] | str | None:
    """HTML (Markup) blocks drawn on the portal home page."""


@hookspec
def arportal_portal_aside(ctx: TenantContext) -> list[str] | str | None:
    """HTML (Markup) blocks drawn on every portal page, after the page's content (shared
    documents, help links). Called once per page: keep it to one small query."""


@hookspec(firstresult=True)
def arportal_theme(ctx: TenantContext) -> Theme | None:
    """The tenant's theme (colours, logo, display name). The first answer wins.

    The logo travels as bytes (`Theme.logo_bytes`, PNG or JPEG, with `logo_content_type`):
    the core serves them on the portal at `<portal>/logo` and in mail from a signed URL; a
    PDF renderer embeds them as a `data:` URL, so it never fetches anything. Called on every
    page and mail: read the bytes from a cache, not the disk, each time.
    """


@hookspec(firstresult=True)
def arportal_mail_sender(ctx: TenantContext) -> MailSender | None:
    """The From (and Reply-To) of the tenant's mail. The first answer wins; else the
    instance's `mail.default_sender`. Answer `MailSender(email=None, reply_to=...)` to keep
    the default From and set only the Reply-To."""


@hookspec
def arportal_contact_info(ctx: TenantContext) -> dict[str, str] | None:
    """Contact details shown on portal pages ({"email": ..., "phone": ...})."""


@hookspec
def arportal_customer_details(
    ctx: TenantContext, customers: list[Any]
) -> dict[int, dict[str, Any]] | None:
    """What this plugin adds about many customers at once to the admin API's customers
    (`GET /api/v1/customers/...`): `{customer_id: {...}}`, shown under
    `plugins.<plugin name>`. Plain JSON data, never a secret; one query for the whole list.
    """


# --- Holds -------------------------------------------------------------------------------


@hookspec
def arportal_invoice_holds(ctx: TenantContext, invoices: list[Any]) -> list[Hold]:
    """Which of `invoices` this plugin holds (an open dispute, a pending promise), and why.

    Asked for many invoices at once. Other plugins read the merged answer through
    `arportal.holds_for(ctx, invoices)`, never by asking a plugin directly.
    """


# --- Events: called after the change is committed -----------------------------------------


@hookspec
def arportal_customer_created(ctx: TenantContext, customer: Any) -> None:
    """A customer was created (by the API, an import or the demo)."""


@hookspec
def arportal_invoice_changed(ctx: TenantContext, invoice: Any, previous: Any) -> None:
    """An invoice was created or changed; `previous` is None for a new invoice."""


@hookspec
def arportal_payment_recorded(ctx: TenantContext, payment: Any) -> None:
    """A payment (with its allocations) was recorded."""


@hookspec
def arportal_event(ctx: TenantContext, name: str, data: dict[str, Any]) -> None:
    """Every event, core or plugin (`dispute_opened`, ...): audit log, outgoing webhooks."""

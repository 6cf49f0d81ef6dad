"""Reading and writing a tenant's settings, feature switches and customer toggles.

The shape is the admin API's `GET /api/v1/settings`: `{"features": {key: bool},
"<section>": {...}}` with every declared feature and section (defaults filled in, secret fields
shown as "********"). A patch may hold any part of it; each touched section is validated as a
whole (stored values merged with the patch) by the section's Struct, and errors name the path
(`portal.link_validity_days`, `features.nope`). Sending a secret back as "********" keeps the
stored value.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

import msgspec

from arportal.events import audit
from arportal.ledger import executemany, fetch, transaction
from arportal.settings import SECRET_MASK, SettingsError, decode_section, encode_section

if TYPE_CHECKING:
    from arportal.context import TenantContext

_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")
UPSERT_SETTING = (
    "INSERT INTO tenant_setting (tenant, section, data) VALUES (?, ?, ?)"
    " ON CONFLICT (tenant, section) DO UPDATE SET data = excluded.data"
)
UPSERT_FEATURE = (
    "INSERT INTO tenant_feature (tenant, key, enabled) VALUES (?, ?, ?)"
    " ON CONFLICT (tenant, key) DO UPDATE SET enabled = excluded.enabled"
)
UPSERT_TOGGLE = (
    "INSERT INTO customer_toggle (tenant, customer, key, enabled) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (customer, key) DO UPDATE SET enabled = excluded.enabled"
)


async def read_settings(ctx: TenantContext) -> dict[str, Any]:
    out: dict[str, Any] = {"features": ctx.features()}
    for key, (section, _plugin) in ctx.host.declarations.sections.items():
        out[key] = encode_section(ctx.settings(key), section.secret_fields)
    return out


def _check_patch(
    ctx: TenantContext, patch: Any
) -> tuple[dict[str, bool], dict[str, dict[str, Any]]]:
    """Validate a patch without writing: the feature values and the merged sections."""
    if not isinstance(patch, dict):
        raise SettingsError("settings", "expected an object")
    declared = ctx.host.declarations
    features: dict[str, bool] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in patch.items():
        if key == "features":
            if not isinstance(value, dict):
                raise SettingsError("features", "expected an object of feature: true/false")
            for name, enabled in value.items():
                if name not in declared.features:
                    raise SettingsError(f"features.{name}", f"unknown feature {name!r}")
                if not isinstance(enabled, bool):
                    raise SettingsError(f"features.{name}", "expected true or false")
                features[name] = enabled
            continue
        if key not in declared.sections:
            raise SettingsError(key, f"unknown settings section {key!r}")
        if not isinstance(value, dict):
            raise SettingsError(key, "expected an object")
        section = declared.sections[key][0]
        stored = dict(ctx.settings_data.get(key, {}))
        merged = {**stored, **value}
        for name in section.secret_fields:
            if value.get(name) == SECRET_MASK:
                if name in stored:
                    merged[name] = stored[name]
                else:
                    merged.pop(name)
        decoded = _decode(key, section.schema, merged)
        sections[key] = msgspec.to_builtins(decoded)
    _check_required_when_on(ctx, features, sections)
    return features, sections


def _check_required_when_on(
    ctx: TenantContext, features: dict[str, bool], sections: dict[str, dict[str, Any]]
) -> None:
    """A section's `required_when_on` fields must be filled while its feature is on, checked
    when the patch switches the feature on or writes the section."""
    for key, (section, _plugin) in ctx.host.declarations.sections.items():
        feature = section.feature
        if not feature or not section.required_when_on:
            continue
        if not features.get(feature, ctx.feature_enabled(feature)):
            continue
        if key not in sections and not features.get(feature):
            continue
        values = sections[key] if key in sections else msgspec.to_builtins(ctx.settings(key))
        for name in section.required_when_on:
            if values.get(name) in (None, "", [], {}):
                raise SettingsError(
                    f"{key}.{name}", f"required while the feature {feature!r} is on"
                )


def _decode(key: str, schema: type[msgspec.Struct], data: dict[str, Any]) -> msgspec.Struct:
    """`decode_section`, with the path down to the field for an unknown or missing field
    and for a `__post_init__` check that raised "field: message" (msgspec gives no path)."""
    try:
        return decode_section(key, schema, data)
    except SettingsError as exc:
        named = _NAMED.search(exc.message)
        if named:
            raise SettingsError(f"{exc.path}.{named['name']}", exc.message) from None
        name, sep, rest = exc.message.partition(":")
        if exc.path == key and sep and name in schema.__struct_fields__:
            raise SettingsError(f"{key}.{name}", rest.strip()) from None
        raise


async def check_patch(
    ctx: TenantContext, patch: Any
) -> tuple[dict[str, bool], dict[str, dict[str, Any]]]:
    """Validate a patch without writing (each touched section's Struct, then its `check`):
    the feature values and the merged sections. Errors are `SettingsError`s naming the path."""
    features, sections = _check_patch(ctx, patch)
    for key, data in sections.items():
        section = ctx.host.declarations.sections[key][0]
        if section.check is None:
            continue
        try:
            result = section.check(ctx, decode_section(key, section.schema, data))
            if inspect.isawaitable(result):
                await result
        except SettingsError:
            raise
        except ValueError as exc:
            name, sep, rest = str(exc).partition(":")
            if sep and name in section.schema.__struct_fields__:
                raise SettingsError(f"{key}.{name}", rest.strip()) from None
            raise SettingsError(key, str(exc)) from None
    return features, sections


async def apply_settings(ctx: TenantContext, patch: dict[str, Any]) -> dict[str, Any]:
    """Validate and store a patch (all of it or nothing); returns `read_settings`.

    The stored section is the full validated section, so later changes of a plugin's
    defaults do not silently change what an operator saw and saved. After the commit the
    enabled plugins hear `arportal_event("settings_changed", {"features": {...}, "fields":
    {section: [field, ...]}})` (with the context already showing the new values)."""
    features, sections = await check_patch(ctx, patch)
    async with transaction():
        await executemany(UPSERT_FEATURE, [(ctx.tenant_id, k, v) for k, v in features.items()])
        await executemany(
            UPSERT_SETTING,
            [(ctx.tenant_id, k, msgspec.json.encode(v).decode()) for k, v in sections.items()],
        )
        if features or sections:
            await audit(
                ctx,
                "settings.changed",
                "settings",
                "",
                {
                    "features": features,
                    "fields": {key: sorted(patch[key]) for key in sections},
                },
            )
    ctx.feature_values.update(features)
    for key, data in sections.items():
        ctx.settings_data[key] = data
        ctx._decoded.pop(key, None)
    if features or sections:
        changed = {"features": features, "fields": {key: sorted(patch[key]) for key in sections}}
        await ctx.call("arportal_event", name="settings_changed", data=changed)
    return await read_settings(ctx)


async def set_customer_toggles(
    ctx: TenantContext, customer_id: int, toggles: dict[str, bool], *, external_id: str = ""
) -> None:
    """Set a customer's toggles. A customer of another tenant is refused like an unknown one."""
    declared = ctx.host.declarations.toggles
    for key, value in toggles.items():
        if key not in declared:
            raise SettingsError(f"toggles.{key}", f"unknown toggle {key!r}")
        if not isinstance(value, bool):
            raise SettingsError(f"toggles.{key}", "expected true or false")
    if not toggles:
        return
    async with transaction():
        owner = await fetch(
            "SELECT external_id FROM customer WHERE tenant = ? AND id = ?",
            [ctx.tenant_id, customer_id],
        )
        if not owner:
            raise SettingsError("customer", f"no customer {customer_id} in this tenant")
        await executemany(
            UPSERT_TOGGLE,
            [(ctx.tenant_id, customer_id, key, value) for key, value in toggles.items()],
        )
        subject = external_id or owner[0]["external_id"]
        await audit(ctx, "customer.toggles_changed", "customer", subject, dict(toggles))

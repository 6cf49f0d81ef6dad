"""The core's own declarations, made through the same hooks as any plugin's."""

from __future__ import annotations

from arportal.core_jobs import CORE_JOBS
from arportal.declarations import CustomerToggle, Job, SettingsSection
from arportal.hookspecs import hookimpl
from arportal.settings import PortalSettings


@hookimpl
def arportal_customer_toggles() -> list[CustomerToggle]:
    return [CustomerToggle(key="portal", label="Customer portal", default=True)]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [SettingsSection(key="portal", schema=PortalSettings)]


@hookimpl
def arportal_jobs() -> list[Job]:
    return list(CORE_JOBS)

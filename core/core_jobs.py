"""The core's own jobs, declared through `arportal_jobs` like any plugin's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arportal.declarations import Job

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.mailer import DeliveryReport


async def deliver_outbox(config: Config) -> DeliveryReport:
    """Send the mail that is due (nothing while no SMTP server is configured)."""
    from arportal.mailer import deliver_pending

    return await deliver_pending(config)


CORE_JOBS = [Job(name="deliver_outbox", run=deliver_outbox, every_seconds=60, per_tenant=False)]

"""The instance's `[mail]` section, and how the outbox applies it to a plugin's sender: the
default sender, sender addresses outside the allowed domains, a Reply-To alone, the brand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arportal.config import ConfigError, MailConfig, load_config
from arportal.declarations import MailSender, Theme
from arportal.models import OutboxMessage
from arportal.outbox import enqueue_mail
from arportal.tenancy import load_context
from tests.conftest import make_tenant, running_app
from tests.core.file_samples import png
from tests.core.mail_helpers import MailPlugin


def test_the_mail_section_from_toml_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "arportal.toml"
    path.write_text(
        '[mail]\ndefault_sender = "Acme AR <no-reply@portal.example.com>"\n'
        'allowed_sender_domains = ["Acme.example"]\n'
    )
    config = load_config(path, environ={})
    assert config.mail.default_sender == "Acme AR <no-reply@portal.example.com>"
    assert config.mail.allows_sender("billing@acme.example")
    assert config.mail.allows_sender("billing@ACME.EXAMPLE")
    assert not config.mail.allows_sender("billing@other.example")
    assert not config.mail.allows_sender("billing@sub.acme.example")

    env = load_config(path, environ={"ARPORTAL_MAIL__DEFAULT_SENDER": "ar@portal.test"})
    assert env.mail.default_sender == "ar@portal.test"
    assert MailConfig().allows_sender("anyone@anywhere.test"), "no list: any domain"


@pytest.mark.parametrize(
    "text",
    [
        'mail_from = "a@b.test"\n',
        '[mail]\ndefault_sender = "nobody"\n',
        '[mail]\nsender = "a@b.test"\n',
    ],
)
def test_a_bad_mail_section_names_the_key(tmp_path: Path, text: str) -> None:
    path = tmp_path / "arportal.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    message = str(error.value)
    assert "mail_from" in message or "default_sender" in message or "sender" in message


async def mail_with(make_config: Any, tmp_path: Any, sender: MailSender | None,
                    theme: Theme | None = None, **mail: Any) -> dict[str, Any]:
    config = make_config(mail=MailConfig(**mail))
    plugin = MailPlugin(tmp_path / "t", sender=sender, theme=theme)
    async with running_app(config, plugins=[("mailtest", plugin)]) as running:
        ctx = await load_context(running.host, running.config, (await make_tenant()).row)
        await enqueue_mail(ctx, to=["ann@example.com"], subject="Hi",
                           template="mailtest:greeting", context={"name": "Ann"})
        row = await OutboxMessage.select().first()
        assert row is not None
        return row  # type: ignore[no-any-return]


async def test_a_sender_without_address_keeps_the_default_and_sets_reply_to(
    make_config: Any, tmp_path: Any
) -> None:
    row = await mail_with(make_config, tmp_path, MailSender(reply_to="ar@acme.example"),
                          default_sender="Portal <no-reply@portal.example>")
    assert row["from_addr"] == "Portal <no-reply@portal.example>"
    assert row["reply_to"] == "ar@acme.example"


async def test_a_sender_outside_the_allowed_domains_is_not_used(
    make_config: Any, tmp_path: Any
) -> None:
    sender = MailSender(email="billing@gmail.example", name="Acme", reply_to="ar@acme.example")
    row = await mail_with(make_config, tmp_path, sender, default_sender="no-reply@portal.example",
                          allowed_sender_domains=["acme.example"])
    assert row["from_addr"] == "no-reply@portal.example" and row["reply_to"] == "ar@acme.example"


async def test_the_mail_layout_draws_checked_colours_and_the_logo(
    make_config: Any, tmp_path: Any
) -> None:
    logo = png()
    theme = Theme(display_name="Acme Billing", banner_color="#ffd500",
                  banner_text_color="#ffffff", primary_color="red;background:url(//evil)",
                  logo_bytes=logo, logo_content_type="image/png")
    row = await mail_with(make_config, tmp_path, None, theme)
    html = row["html_body"]
    assert "background:#ffd500;color:#000000" in html, "white on yellow would not read"
    assert "evil" not in html
    assert '<img src="http://testserver/files/images/' in html and 'alt="Acme Billing"' in html

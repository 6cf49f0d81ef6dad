"""A plugin with mail templates (and optionally a sender and a theme), and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

import arportal
from arportal.declarations import MailSender, Theme

GREETING_TXT = "Hello {{ name }}, this is {{ tenant_name }}.\n"
GREETING_HTML = (
    '{% extends "core:mail/base.html" %}'
    "{% block content %}<p>Hello <b>{{ name }}</b>, this is {{ tenant_name }}.</p>{% endblock %}"
)


class MailPlugin:
    """Templates `mailtest:greeting` (text + HTML) and `mailtest:plain` (text only)."""

    def __init__(
        self, template_dir: Path, sender: MailSender | None = None, theme: Theme | None = None
    ):
        template_dir.mkdir(parents=True, exist_ok=True)
        (template_dir / "greeting.txt").write_text(GREETING_TXT)
        (template_dir / "greeting.html").write_text(GREETING_HTML)
        (template_dir / "plain.txt").write_text("Theme colour {{ theme.primary_color }}.\n")
        self.dir = template_dir
        self.sender = sender
        self.theme = theme

    @arportal.hookimpl
    def arportal_template_dirs(self) -> list[str]:
        return [str(self.dir)]

    @arportal.hookimpl
    def arportal_mail_sender(self, ctx: Any) -> MailSender | None:
        return self.sender

    @arportal.hookimpl
    def arportal_theme(self, ctx: Any) -> Theme | None:
        return self.theme


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
            for e in self.envelopes
        ]


class SmtpServer:
    """A real SMTP server on 127.0.0.1:`port`, which can be started and stopped."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.collector = Collector()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.collector.messages


def parts(message: EmailMessage) -> tuple[str, str | None]:
    """The text/plain and text/html bodies of a message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (
        text.get_content() if text is not None else "",  # type: ignore[attr-defined]
        html.get_content() if html is not None else None,  # type: ignore[attr-defined]
    )

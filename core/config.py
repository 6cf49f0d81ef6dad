"""Instance configuration: `arportal.toml` overlaid with `ARPORTAL_*` environment variables.

Nested keys use a double underscore in the environment: `ARPORTAL_SMTP__HOST=mail.local`.
Errors name the bad key and what was expected.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

import msgspec

DEFAULT_CONFIG_PATH = "arportal.toml"


class ConfigError(ValueError):
    """The instance configuration is invalid; the message names the key."""


class SmtpConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout: float = 10.0


class MailConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    default_sender: str = "arportal <noreply@localhost>"
    """The From of every mail whose tenant has no verified sender of its own."""
    allowed_sender_domains: list[str] | None = None
    """Domains a tenant's own sender address may use (None: any). The instance's SMTP relay
    (its SPF/DKIM) decides which domains it may send for."""

    def __post_init__(self) -> None:
        from email.utils import parseaddr

        address = parseaddr(self.default_sender)[1]
        if "@" not in address or any(c in self.default_sender for c in "\r\n"):
            raise ConfigError(
                f"mail.default_sender: expected an address such as "
                f"'Acme AR <no-reply@portal.example.com>', got {self.default_sender!r}"
            )
        if self.allowed_sender_domains is not None:
            self.allowed_sender_domains = [d.strip().lower() for d in self.allowed_sender_domains]

    def allows_sender(self, address: str) -> bool:
        """Whether a tenant may send from `address` (its domain is in the allowed list)."""
        if self.allowed_sender_domains is None:
            return True
        domain = address.rpartition("@")[2].strip().lower()
        return domain in self.allowed_sender_domains


class PluginsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: list[str] | None = None
    """Names of installed plugins to load; None loads every installed plugin."""
    disabled: list[str] = msgspec.field(default_factory=list)
    skip_broken: bool = False
    """Start without a plugin whose import fails (it is reported) instead of refusing to start."""
    options: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Instance-wide options of each plugin, `[plugins.options.<name>]`: what the host decides
    rather than a tenant (a gateway's API address, a path). The plugin validates its own."""


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    database: str = "sqlite:///arportal.db"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    """Signs portal links and sessions. Without it a key is kept in `secret_file`."""
    secret_file: str = "arportal.secret"  # noqa: S105  (a file name, not a secret)
    plugins: PluginsConfig = msgspec.field(default_factory=PluginsConfig)
    smtp: SmtpConfig | None = None
    mail: MailConfig = msgspec.field(default_factory=MailConfig)
    upload_max_bytes: int = 10 * 1024 * 1024
    request_max_bytes: int = 20 * 1024 * 1024
    files_dir: str = "files"
    workers: int = 1
    process_workers: int | None = None
    """Worker processes per server process for CPU-bound work such as statement PDFs
    (started on first use); default: the number of CPUs."""
    run_jobs: bool = True
    jobs_interval_seconds: int = 60
    redis_url: str | None = None
    failed_lookup_limit: int = 20
    """Failed portal-link look-ups allowed per client address per minute."""

    def __post_init__(self) -> None:
        if not (self.database.startswith("sqlite://") or self.database.startswith("postgres")):
            raise ConfigError(
                f"database: expected sqlite:///PATH or postgresql://..., got {self.database!r}"
            )
        if self.workers < 1:
            raise ConfigError("workers: expected an integer >= 1")
        if self.process_workers is not None and not 1 <= self.process_workers <= 64:
            raise ConfigError("process_workers: expected an integer from 1 to 64")

    @property
    def engine_name(self) -> str:
        return "sqlite" if self.database.startswith("sqlite") else "postgres"

    def resolved_secret(self) -> bytes:
        """The server secret. A generated one is kept in a 0600 file so links survive restarts."""
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.secret_file)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("ARPORTAL_") or name == "ARPORTAL_CONFIG":
            continue
        if name.startswith("ARPORTAL_TEST"):
            continue
        keys = name[len("ARPORTAL_") :].lower().split("__")
        target = overrides
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return overrides


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def config_from_mapping(data: dict[str, Any]) -> Config:
    try:
        return msgspec.convert(data, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    except ConfigError:
        raise


def load_config(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Config:
    """Read the TOML file (missing is fine for the default path) and apply the environment."""
    environ = dict(os.environ if environ is None else environ)
    explicit = path is not None or "ARPORTAL_CONFIG" in environ
    config_path = Path(path or environ.get("ARPORTAL_CONFIG", DEFAULT_CONFIG_PATH))
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"config file not found: {config_path}")
    return config_from_mapping(_merge(data, _env_overrides(environ)))

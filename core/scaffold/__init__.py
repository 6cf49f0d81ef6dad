"""`arportal plugins new NAME`: write a ready plugin package from the templates beside this
module (`templates/`, package data).

The templates are plain files with `%%key%%` placeholders (no template language: the plugin's
own Jinja templates pass through untouched). `package/` becomes the plugin's import package
and `migrations/initial.py` its first migration, named and stamped like Piccolo's own.
"""

from __future__ import annotations

import datetime as dt
import keyword
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUFFIX = ".tmpl"
NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
RESERVED = {"arportal", "core", "plugins", "testing", "scaffold", "test", "tests", "portal"}


class ScaffoldError(ValueError):
    """The plugin cannot be written; the message says why."""


@dataclass(frozen=True)
class Scaffold:
    name: str
    """The plugin's name: its entry point, feature key, settings section, table prefix."""
    stamp: dt.datetime

    @property
    def package(self) -> str:
        return f"arportal_{self.name}"

    @property
    def distribution(self) -> str:
        return "arportal-" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def class_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def migration_module(self) -> str:
        return f"{self.name}_{self.stamp.strftime('%Y_%m_%dt%H_%M_%S_%f')}"

    def values(self) -> dict[str, str]:
        from piccolo import __VERSION__ as piccolo_version

        return {
            "name": self.name,
            "package": self.package,
            "dist": self.distribution,
            "title": self.title,
            "class": self.class_prefix,
            "requires": requires_range(),
            "migration_id": self.stamp.strftime("%Y-%m-%dT%H:%M:%S:%f"),
            "piccolo_version": piccolo_version,
        }

    def target_path(self, template: Path) -> Path:
        parts = list(template.relative_to(TEMPLATES).parts)
        if parts[0] == "package":
            parts[0] = self.package
        parts[-1] = parts[-1].removesuffix(SUFFIX)
        if parts[-2:] == ["migrations", "initial.py"]:
            parts[-1] = f"{self.migration_module}.py"
        if parts == ["gitignore"]:
            parts = [".gitignore"]
        return Path(*parts)


def requires_range() -> str:
    """The core versions a new plugin states it supports: this one up to the next major
    (`>=0.1,<1`), since only a major version may remove a name or change a hook."""
    from packaging.version import Version

    from arportal import __version__

    version = Version(__version__)
    return f">={version.major}.{version.minor},<{version.major + 1}"


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or name.endswith("_") or "__" in name:
        raise ScaffoldError(
            f"plugin name {name!r}: expected 2 to 40 lower-case letters, digits and single "
            "underscores, starting with a letter (it becomes a Python package, a feature key "
            "and a table prefix)"
        )
    if keyword.iskeyword(name) or name in RESERVED:
        raise ScaffoldError(f"plugin name {name!r} is reserved: choose another")
    if metadata.entry_points(group="arportal.plugins", name=name):
        raise ScaffoldError(f"a plugin named {name!r} is already installed: choose another")


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"%%{key}%%", value)
    leftover = re.search(r"%%\w+%%", text)
    if leftover:  # a template names a value that does not exist: the core's bug
        raise RuntimeError(f"scaffold template placeholder {leftover.group()} has no value")
    return text


def new_plugin(name: str, directory: Path | None = None, now: dt.datetime | None = None) -> Path:
    """Write the plugin `name` into `directory` (default `./arportal-<name>`), which must
    not exist or be empty; answer the folder. Nothing is written when the name is refused."""
    check_name(name)
    scaffold = Scaffold(name, now or dt.datetime.now(dt.UTC))
    target = Path(directory) if directory else Path.cwd() / scaffold.distribution
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty folder")
    values = scaffold.values()
    files = {
        scaffold.target_path(template): render(template.read_text(encoding="utf-8"), values)
        for template in sorted(TEMPLATES.rglob(f"*{SUFFIX}"))
    }
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target

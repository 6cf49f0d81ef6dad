"""One Jinja environment: operator overrides first, then each plugin's templates under its
name (`"disputes:form.html"`), the core's under `"core:"`. Autoescape is always on.

Templates are compiled once per process (`auto_reload=False`: no stat() of the file on every
render); restart the server after editing one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from arportal.formatting import install_filters

if TYPE_CHECKING:
    from arportal.plugin_host import PluginHost

CORE_TEMPLATES = Path(__file__).parent / "templates"


def build_environment(host: PluginHost, override_dir: str | None = None) -> Environment:
    prefixes: dict[str, FileSystemLoader] = {"core": FileSystemLoader(CORE_TEMPLATES / "core")}
    for plugin_name, dirs in host.declarations.template_dirs.items():
        prefixes[plugin_name] = FileSystemLoader(dirs)
    loaders = []
    if override_dir:
        loaders.append(FileSystemLoader(override_dir))
    loaders.append(PrefixLoader(prefixes, delimiter=":"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=1000,
    )
    install_filters(env)
    return env

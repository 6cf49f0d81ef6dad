"""Piccolo's configuration module (`PICCOLO_CONF=arportal.piccolo_conf`).

It answers `DB` and `APP_REGISTRY` from the instance's current database state, so Piccolo's
own machinery (migrations, `engine_finder`) sees the database the app factory chose.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    from arportal.db import state

    if name == "DB":
        return state.engine
    if name == "APP_REGISTRY":
        return state.registry
    raise AttributeError(name)

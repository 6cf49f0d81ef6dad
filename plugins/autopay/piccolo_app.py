"""Autopay's Piccolo app: its tables, and migrations that run after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal.plugins.autopay.models import TABLES

APP_CONFIG = AppConfig(
    app_name="autopay",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=list(TABLES),
    migration_dependencies=["arportal.piccolo_app"],
)

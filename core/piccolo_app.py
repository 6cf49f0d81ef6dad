"""The core's Piccolo app: its tables and migrations. Plugin apps depend on it."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal.models import CORE_TABLES

APP_CONFIG = AppConfig(
    app_name="arportal",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=list(CORE_TABLES),
    migration_dependencies=[],
)

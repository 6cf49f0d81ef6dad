"""The plugin's Piccolo app: its table, and migrations that run after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal.plugins.late_fees_netsuite.models import LateFee

APP_CONFIG = AppConfig(
    app_name="late_fees_netsuite",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[LateFee],
    migration_dependencies=["arportal.piccolo_app"],
)

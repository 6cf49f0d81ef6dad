"""The plugin's Piccolo app: its tables, and migrations that run after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal.plugins.disputes.models import Dispute, DisputeMessage

APP_CONFIG = AppConfig(
    app_name="disputes",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Dispute, DisputeMessage],
    migration_dependencies=["arportal.piccolo_app"],
)

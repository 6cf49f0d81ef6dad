"""The plugin's Piccolo app: its tables, and migrations that run after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal_example.models import ExampleNote

APP_CONFIG = AppConfig(
    app_name="example",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[ExampleNote],
    migration_dependencies=["arportal.piccolo_app"],
)

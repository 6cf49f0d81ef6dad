"""The plugin's Piccolo app: its tables, and migrations that run after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal.plugins.promise_to_pay.models import Promise, PromiseHistory

APP_CONFIG = AppConfig(
    app_name="promise_to_pay",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Promise, PromiseHistory],
    migration_dependencies=["arportal.piccolo_app"],
)

"""The plugin's Piccolo app: its tables, and migrations that run after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from arportal.plugins.branding.models import BrandingDocument, BrandingSender

APP_CONFIG = AppConfig(
    app_name="branding",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[BrandingDocument, BrandingSender],
    migration_dependencies=["arportal.piccolo_app"],
)

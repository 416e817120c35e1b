"""The command groups, made once so several modules can add commands to one group."""

from __future__ import annotations

from fieldkit.cli.app import sub_app

forms_app = sub_app("forms", "Check, add, show, publish and try out XLSForms.")
records_app = sub_app("records", "List, show, edit and discard records in this workspace.")
server_app = sub_app("server", "Run and administer the central sync server.")
project_app = sub_app("project", "Create and manage the project this workspace belongs to.")
audit_app = sub_app("audit", "Check the workspace's tamper-evident audit log.")

import typer  # noqa: E402

devices_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Enrolled devices.")
server_app.add_typer(devices_app, name="devices")

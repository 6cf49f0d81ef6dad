"""`arportal plugins new NAME`: the package it writes is found through its entry point and its
own test suite passes (on PostgreSQL too when the suite runs with it). `.ci/scaffold-check`
does the same with a real `pip install` in a fresh virtual environment and a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from arportal.cli import main


def new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plugins", "new", *args])
    return result.exit_code, result.output


def register(project: Path) -> dict[str, str]:
    """Make `project` importable with its entry points, as `pip install -e` would (a
    dist-info folder read from PYTHONPATH); answer the environment of a subprocess."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    info = project / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    points = meta["entry-points"]["arportal.plugins"]
    (info / "entry_points.txt").write_text(
        "[arportal.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
    )
    return {**os.environ, "PYTHONPATH": str(project)}


def test_a_new_plugin_is_listed_and_its_own_tests_pass(tmp_path: Path) -> None:
    project = tmp_path / "arportal-payment_notes"
    code, output = new("payment_notes", "--dir", str(project))
    assert code == 0, output
    assert f"plugin 'payment_notes' written to {project}" in output
    package = project / "arportal_payment_notes"
    for part in ("plugin.py", "settings.py", "models.py", "routes.py", "piccolo_app.py",
                 "templates/page.html"):
        assert (package / part).is_file(), part
    (migration,) = (package / "migrations").glob("payment_notes_*.py")
    assert 'app_name="payment_notes"' in migration.read_text()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "arportal-payment-notes"
    assert pyproject["project"]["entry-points"]["arportal.plugins"] == {
        "payment_notes": "arportal_payment_notes.plugin"
    }
    assert pyproject["project"]["dependencies"] == ["arportal>=0.1,<1"]

    env = register(project)
    listed = subprocess.run(
        [sys.executable, "-m", "arportal", "plugins", "list", "--json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["payment_notes"]["kind"] == "third-party"
    assert rows["payment_notes"]["enabled"] is True
    assert rows["payment_notes"]["error"] is None

    auto = subprocess.run(
        [str(Path(sys.executable).with_name("piccolo")), "migrations", "new", "payment_notes",
         "--auto"],
        cwd=project, env={**env, "PICCOLO_CONF": "piccolo_conf"}, capture_output=True,
        text=True, timeout=60,
    )
    assert auto.returncode == 0, auto.stdout + auto.stderr
    assert "No changes detected" in auto.stdout, "the first migration matches models.py"
    assert list((package / "migrations").glob("payment_notes_*.py")) == [migration]

    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    assert " failed" not in suite.stdout
    assert "7 passed" in suite.stdout or "14 passed" in suite.stdout, suite.stdout[-2000:]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Reminders", "expected 2 to 40 lower-case letters"),
        ("9lives", "expected 2 to 40 lower-case letters"),
        ("two__underscores", "expected 2 to 40 lower-case letters"),
        ("class", "plugin name 'class' is reserved"),
        ("core", "plugin name 'core' is reserved"),
        ("example", "a plugin named 'example' is already installed"),
    ],
)
def test_a_bad_name_is_refused_and_nothing_is_written(
    tmp_path: Path, name: str, reason: str
) -> None:
    code, output = new(name, "--dir", str(tmp_path / "out"))
    assert code == 1
    assert output.startswith("error: ") and reason in output
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    code, output = new("reminders", "--dir", str(tmp_path / "out"))
    assert code == 1
    assert "already exists and is not an empty folder" in output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_the_default_folder_is_named_after_the_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["plugins", "new", "reminders", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["path"] == str(tmp_path / "arportal-reminders")
    assert "arportal_reminders/plugin.py" in data["files"]
    assert {"tests/test_plugin.py", ".gitignore", "piccolo_conf.py", "README.md"} <= set(
        data["files"]
    )

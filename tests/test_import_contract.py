"""The import contract, checked on the source: the core never imports a plugin, and a plugin
imports only the public API (the names `arportal` exports) and its own package.

import-linter cannot follow this repository's package-dir mapping (core/ and plugins/ are two
trees of one `arportal` namespace), so the contract is checked here from the syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_core_never_imports_a_plugin() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in (ROOT / "core").rglob("*.py")
        for line, module in imported_modules(path)
        if module == "arportal.plugins" or module.startswith("arportal.plugins.")
    ]
    assert offences == []


def test_plugins_never_import_each_other() -> None:
    offences = []
    for plugin_dir in sorted(p for p in (ROOT / "plugins").iterdir() if p.is_dir()):
        own = f"arportal.plugins.{plugin_dir.name}"
        for path in plugin_dir.rglob("*.py"):
            for line, module in imported_modules(path):
                if module.startswith("arportal.plugins") and not (
                    module == own or module.startswith(own + ".")
                ):
                    offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


def public_api_offences(path: Path, own: str) -> list[str]:
    """Imports of the core other than `from arportal import <exported name>`."""
    import arportal

    exported = set(arportal.__all__)
    offences = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "arportal":
            offences += [
                f"{node.lineno}: arportal.{alias.name} is not exported"
                for alias in node.names
                if alias.name not in exported
            ]
    for line, module in imported_modules(path):
        if module == "arportal" or module == own or module.startswith(own + "."):
            continue
        if module.startswith("arportal."):
            offences.append(f"{line}: imports {module}, a module of the core")
    return offences


def test_plugins_use_only_the_public_api() -> None:
    offences = []
    for plugin_dir in sorted(p for p in (ROOT / "plugins").iterdir() if p.is_dir()):
        own = f"arportal.plugins.{plugin_dir.name}"
        for path in plugin_dir.rglob("*.py"):
            offences += [
                f"{path.relative_to(ROOT)}:{offence}"
                for offence in public_api_offences(path, own)
            ]
    assert offences == []


def test_the_public_api_check_sees_internal_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from arportal import Invoice, db\nfrom arportal.ledger import transaction\n"
        "import arportal.models\nfrom arportal.plugins.mine import x\n"
    )
    assert public_api_offences(sample, "arportal.plugins.mine") == [
        "1: arportal.db is not exported",
        "2: imports arportal.ledger, a module of the core",
        "3: imports arportal.models, a module of the core",
    ]


def test_the_contract_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from arportal.plugins.disputes import models\nimport arportal\n")
    assert imported_modules(sample) == [(1, "arportal.plugins.disputes"), (2, "arportal")]

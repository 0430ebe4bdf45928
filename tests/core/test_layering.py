"""The bottom package imports no app of the project, and business code does not reach into template tags."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = {"agencies", "billing", "usage", "invoices", "ops", "portal"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_no_app_of_the_project(path):
    assert {name for name in _imports(path) if name.split(".")[0] in APPS} == set()


def test_no_business_module_imports_a_template_tag_module():
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS - {"portal"}
        for path in (ROOT / app).rglob("*.py")
        if "templatetags" not in path.parts and any(".templatetags" in name for name in _imports(path))
    ]
    assert offenders == []

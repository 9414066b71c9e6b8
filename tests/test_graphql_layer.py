"""The GraphQL layer stays a layer: no SQL in graphql/, and every module imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
GRAPHQL = SRC / "entitle" / "graphql"
FORBIDDEN_ROOTS = ("sqlalchemy", "sqlmodel", "entitle.db")


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from ... import`` names, wherever it is (TYPE_CHECKING blocks
    and function bodies included), with its line; ``from a import b`` names ``a.b`` (b may be a module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _forbidden_imports(source: str, name: str) -> list[str]:
    return sorted(
        {
            f"{name}:{line}"
            for line, module in _imported_modules(ast.parse(source))
            if any(module == root or module.startswith(root + ".") for root in FORBIDDEN_ROOTS)
        }
    )


def test_no_module_under_graphql_imports_sqlalchemy_sqlmodel_or_entitle_db() -> None:
    # given
    modules = sorted(GRAPHQL.rglob("*.py"))
    assert len(modules) > 20
    # when
    offences = [
        offence
        for path in modules
        for offence in _forbidden_imports(path.read_text(), str(path.relative_to(SRC)))
    ]
    # then
    assert offences == []


def test_the_layer_check_sees_every_form_of_import() -> None:
    # given
    source = """
from typing import TYPE_CHECKING
import sqlalchemy as sa
from sqlmodel import select
from entitle import db
if TYPE_CHECKING:
    from entitle.db.tables import TENANTS
def late():
    import entitle.db.pagination
from entitle.services import listings
"""
    # when
    offences = _forbidden_imports(source, "m.py")
    # then
    assert offences == ["m.py:3", "m.py:4", "m.py:5", "m.py:7", "m.py:9"]


IMPORT_EACH_MODULE = Path(__file__).with_name("import_each_module.py")


def _module_names() -> list[str]:
    names = []
    for path in sorted((SRC / "entitle").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__main__":  # runs the CLI when imported
            continue
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """Catches import cycles: see tests/import_each_module.py."""
    # given
    names = _module_names()
    assert "entitle.graphql.catalog.types" in names
    # when
    done = subprocess.run(
        [sys.executable, "-P", str(IMPORT_EACH_MODULE), *names], capture_output=True, text=True, timeout=600
    )
    # then
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""

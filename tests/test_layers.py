"""Data flows one way (docs: architecture.md): no layer reaches past the one below it.

Each row of ``LAYER_RULES`` names a package (or module) and the imports it must not make; the
AST of every module under it is checked, so an import inside a function counts too. To hold
another layer to the rule (e.g. ``entitle.graphql``), add a row.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.test_graphql_domains import _cycle

SRC = Path(__file__).resolve().parents[1] / "src"
SQL = ("sqlalchemy", "sqlmodel", "entitle.db.tables", "entitle.db.engine")


@dataclass(frozen=True)
class LayerRule:
    target: str
    """A package or module, dotted (``entitle.services``)."""
    forbidden: tuple[str, ...]
    """Import prefixes no module of ``target`` may use."""
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per module, the exact ``module:name`` imports it may make despite ``forbidden``."""


LAYER_RULES = (
    LayerRule(
        "entitle.services",
        SQL,
        allowed={
            # The wiring hands the Database to the caches and the authenticator; no SQL goes with it.
            "entitle.services.runtime": ("entitle.db.engine:Database",),
            "entitle.services.caches": ("entitle.db.engine:Database",),
            # The metering use cases open their reads on it (a session or a lookup); the SQL stays in
            # the repositories.
            "entitle.services.usage": ("entitle.db.engine:Database",),
            "entitle.services.background.webhooks": ("entitle.db.engine:Database",),
            "entitle.services.background.decision_log": ("entitle.db.engine:Database",),
        },
    ),
    LayerRule("entitle.auth", SQL, allowed={"entitle.auth": ("entitle.db.engine:Database",)}),
)


def _modules(target: str) -> list[tuple[str, Path]]:
    path = SRC / target.replace(".", "/")
    if path.with_suffix(".py").is_file():
        return [(target, path.with_suffix(".py"))]
    return [
        (".".join(file.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"), file)
        for file in sorted(path.rglob("*.py"))
    ]


def _imports(tree: ast.AST) -> list[tuple[str, str | None]]:
    """``(module, name)`` per imported name; ``name`` is None for ``import module``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def _under(dotted: str, prefixes: tuple[str, ...]) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in prefixes)


def _violations(rule: LayerRule, module: str, source: str) -> list[str]:
    allowed = rule.allowed.get(module, ())
    bad = []
    for imported, name in _imports(ast.parse(source)):
        # ``from entitle.db import tables`` imports the module ``entitle.db.tables``.
        spellings = (imported,) if name is None else (imported, f"{imported}.{name}")
        if not any(_under(s, rule.forbidden) for s in spellings):
            continue
        if _under(imported, allowed) or (name is not None and f"{imported}:{name}" in allowed):
            continue
        bad.append(imported if name is None else f"{imported}:{name}")
    return bad


@pytest.mark.parametrize(
    ("rule", "module", "path"),
    [(rule, module, path) for rule in LAYER_RULES for module, path in _modules(rule.target)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_module_imports_nothing_its_layer_forbids(rule: LayerRule, module: str, path: Path) -> None:
    # given / when
    bad = _violations(rule, module, path.read_text())
    # then
    assert bad == [], f"{module} imports {bad}: SQL belongs in entitle.db.repositories"


def test_every_layer_rule_names_modules_that_exist() -> None:
    for rule in LAYER_RULES:
        modules = {module for module, _ in _modules(rule.target)}
        assert modules, rule.target
        assert set(rule.allowed) <= modules, rule.target


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy as sa",
        "from sqlalchemy.ext.asyncio import AsyncSession",
        "from entitle.db.tables import FEATURES",
        "from entitle.db import tables",
        "def f():\n    from sqlmodel import select",
        "from entitle.db.engine import upsert_statement",
    ],
)
def test_the_check_catches_sql_imports(source: str) -> None:
    # given a services module importing SQL
    rule = LAYER_RULES[0]
    # when / then
    assert _violations(rule, "entitle.services.catalog", source) != []


def test_the_check_lets_repositories_and_the_wiring_through() -> None:
    rule = LAYER_RULES[0]
    assert _violations(rule, "entitle.services.catalog", "from entitle.db.repositories import features") == []
    assert _violations(rule, "entitle.services.runtime", "from entitle.db.engine import Database") == []
    assert _violations(rule, "entitle.services.runtime", "from entitle.db.engine import Executor") != []


def _import_edges(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the modules of ``sources`` it imports, counting every import (at module level, under
    ``TYPE_CHECKING``, inside a function): ``from a import b`` imports ``a.b`` when that is a module."""
    edges: dict[str, set[str]] = {}
    for module, source in sources.items():
        for imported, name in _imports(ast.parse(source)):
            target = f"{imported}.{name}" if f"{imported}.{name}" in sources else imported
            if target in sources and target != module:
                edges.setdefault(module, set()).add(target)
    return edges


def test_no_import_cycle_among_the_services_modules_counting_deferred_imports() -> None:
    # given every import of every entitle.services module, whenever it runs
    sources = {module: path.read_text() for module, path in _modules("entitle.services")}
    # when
    cycle = _cycle(_import_edges(sources))
    # then (Runtime builds the services it serves with; what they share sits below it)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_sees_deferred_imports() -> None:
    # given a cycle made only of an import inside a function and one under TYPE_CHECKING
    sources = {
        "entitle.services.a": "def f():\n    from entitle.services.b import g\n",
        "entitle.services.b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from entitle.services import a\n",
        "entitle.services.c": "from entitle.services.a import f\n",
    }
    # when / then
    assert _import_edges(sources) == {
        "entitle.services.a": {"entitle.services.b"},
        "entitle.services.b": {"entitle.services.a"},
        "entitle.services.c": {"entitle.services.a"},
    }
    assert _cycle(_import_edges(sources)) == [
        "entitle.services.a",
        "entitle.services.b",
        "entitle.services.a",
    ]

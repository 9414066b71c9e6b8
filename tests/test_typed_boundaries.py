"""No ``Any`` at a layer boundary: the public functions of ``services/`` and ``db/repositories/`` say
what they take and return.

The AST of every module is walked; each public function and each public method of a public class
(names without a leading ``_``) has its parameter and return annotations checked for ``Any``. No
module may declare an alias of ``Any`` either (``Row = Any`` hid the boundary once). ``ALLOWED``
lists the few exceptions, each with its reason; an entry that no longer matches fails the test, so
the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGES = ("entitle/services", "entitle/db/repositories")

SQLALCHEMY_GENERICS = {"Row", "Select", "ColumnElement", "Result"}
"""``sa.Row[Any]`` and friends: SQLAlchemy Core types a whole-table statement's columns as ``Any``;
these stay inside db/ (a repository's private helpers, or the ``of(row)`` that turns a row into a
typed record)."""

ALLOWED: dict[str, str] = {
    "entitle.db.repositories.subject_context:entitlement_record": (
        "the decision path (subject_context.py, access.py, caches.py) is being reworked into one "
        "AccessService separately; it takes a stored entitlement or a context row until then"
    ),
}
"""``module:qualified name`` -> why ``Any`` stays there.

Not listed, because it is not ``Any`` by name: ``JsonValue`` (domain/model.py), a value decoded from
JSON, used for metadata and feature values; ``ResultRow`` (db/repositories), a SQLAlchemy row of any
shape, seen only by the repositories' ``of(row)`` constructors."""


def _mentions_any(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _mentions_any(ast.parse(annotation.value, mode="eval").body)
    if isinstance(annotation, ast.Name):
        return annotation.id == "Any"
    if isinstance(annotation, ast.Attribute):
        return annotation.attr == "Any"
    if isinstance(annotation, ast.Subscript):
        value = annotation.value
        name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", None)
        if name in SQLALCHEMY_GENERICS:
            return False  # the row tuple type of a SQLAlchemy generic; the generic itself is concrete
    return any(
        _mentions_any(child) for child in ast.iter_child_nodes(annotation) if isinstance(child, ast.expr)
    )


def _signature_mentions_any(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if args.vararg is not None:
        every.append(args.vararg)
    if args.kwarg is not None:
        every.append(args.kwarg)
    return any(_mentions_any(a.annotation) for a in every) or _mentions_any(function.returns)


def _public_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """``(qualified name, node)`` of the module's public functions and its public classes' public methods."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, functions) and not node.name.startswith("_"):
            found.append((node.name, node))
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            found.extend(
                (f"{node.name}.{item.name}", item)
                for item in node.body
                if isinstance(item, functions) and not item.name.startswith("_")
            )
    return found


def _offenders(module: str, tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Name) and value.id == "Any":
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.extend(f"{module}:{ast.unparse(t)} (an alias of Any)" for t in targets)
    order = {id(node): index for index, node in enumerate(ast.walk(tree))}
    functions = sorted(_public_functions(tree), key=lambda pair: order[id(pair[1])])
    found.extend(f"{module}:{name}" for name, function in functions if _signature_mentions_any(function))
    return found


def _all_offenders() -> list[str]:
    found: list[str] = []
    for package in PACKAGES:
        for file in sorted((SRC / package).rglob("*.py")):
            module = ".".join(file.relative_to(SRC).with_suffix("").parts)
            found.extend(_offenders(module, ast.parse(file.read_text(), str(file))))
    return found


def test_no_public_function_of_services_or_repositories_takes_or_returns_any() -> None:
    # given / when
    offenders = [o for o in _all_offenders() if o not in ALLOWED]
    # then
    assert offenders == [], (
        "Any at a layer boundary (type it, or add to ALLOWED with a reason):\n" + "\n".join(offenders)
    )


def test_every_allowed_exception_is_still_needed() -> None:
    # given
    found = set(_all_offenders())
    # then
    assert [a for a in ALLOWED if a not in found] == []


def test_the_walk_sees_any_in_a_signature() -> None:
    # given
    tree = ast.parse(
        "from typing import Any\nRow = Any\n"
        "def f(x: dict[str, Any]) -> None: ...\n"
        "def g(x: 'list[Any]') -> None: ...\n"
        "def h(row: sa.Row[Any]) -> int: ...\n"
        "class C:\n    def m(self) -> typing.Any: ...\n    def _private(self, x: Any) -> None: ..."
    )
    # when / then
    assert _offenders("m", tree) == ["m:Row (an alias of Any)", "m:f", "m:g", "m:C.m"]

"""No ``Any`` at a layer boundary: the public functions of ``services/``, ``db/repositories/`` and
``db/pagination.py`` say what they take and return, and so do the GraphQL types' constructors.

The AST of every module is walked; each public function and each public method of a public class
(names without a leading ``_``) has its parameter and return annotations checked for ``Any``. No
module may declare an alias of ``Any`` either (``Row = Any`` hid the boundary once). In
``db/pagination.py`` the fields of public classes are checked too (``Page.rows: list[Any]`` handed
SQL rows to the GraphQL layer once). In ``graphql/`` only the constructors are: the public
``from_*`` methods of public classes (``Tenant.from_record(record: TenantRecord)``), what a node is
built from. ``ALLOWED`` lists the few exceptions, each with its reason; an entry that no longer
matches fails the test, so the list only shrinks.

Nor does a public function take a bag of columns or fields: a parameter typed ``Mapping[str, object]``,
``dict[str, Any]`` (and the like) or ``**values: object`` once carried column values from the services
into the repositories; they take typed values now (``FeatureFields``, ``FeatureChanges``, ...), so the
mapping from domain names to columns lives in db/ only. ``COLUMN_BAGS_ALLOWED`` lists the exceptions.

``JsonValue`` (domain/model.py) is a recursive JSON type, not an alias of ``Any``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGES = ("entitle/services", "entitle/db/repositories", "entitle/db/pagination.py")
"""Every public function and public method here is checked."""
WITH_FIELDS = ("entitle/db/pagination.py",)
"""The annotated fields of public classes here are checked too (a ``Page`` is what crosses the layers)."""
CONSTRUCTORS = ("entitle/graphql",)
"""Only the public ``from_*`` methods of public classes are checked here (the GraphQL types' constructors)."""

SQLALCHEMY_GENERICS = {"Row", "Select", "ColumnElement", "Result"}
"""``sa.Row[Any]`` and friends: SQLAlchemy Core types a whole-table statement's columns as ``Any``;
these stay inside db/ (a repository's private helpers, or the ``of(row)`` that turns a row into a
typed record)."""

ALLOWED: dict[str, str] = {}
"""``module:qualified name`` -> why ``Any`` stays there.

Not listed, because it is not ``Any`` by name: ``ResultRow`` (db/repositories), a SQLAlchemy row of any
shape, seen only by the repositories' ``of(row)`` constructors."""

COLUMN_BAGS_ALLOWED: dict[str, str] = {
    "entitle.db.repositories.idempotency:IdempotencyLedger.claim": (
        "one mechanism for every idempotency ledger (batches, reportUsage, reservations): the further "
        "columns of a ledger's claiming row differ per ledger (reservations claim with their whole row)"
    ),
    "entitle.db.repositories.idempotency:IdempotencyLedger.record": (
        "the further columns a ledger stores with its answer (``amount``, ``status``), as for ``claim``"
    ),
}
"""``module:qualified name`` -> why that function still takes column values by name."""

_BAG_CONTAINERS = {"Mapping", "MutableMapping", "dict", "Dict"}
_BAG_VALUES = {"object", "Any"}


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


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_column_bag(annotation: ast.expr | None) -> bool:
    """``Mapping[str, object]``, ``dict[str, Any]`` and the like, anywhere in the annotation (``X | None``,
    ``Sequence[Mapping[str, object]]``, a quoted annotation)."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _is_column_bag(ast.parse(annotation.value, mode="eval").body)
    if (
        isinstance(annotation, ast.Subscript)
        and _name_of(annotation.value) in _BAG_CONTAINERS
        and isinstance(annotation.slice, ast.Tuple)
        and len(annotation.slice.elts) == 2
    ):
        key, value = annotation.slice.elts
        if _name_of(key) == "str" and _name_of(value) in _BAG_VALUES:
            return True
    return any(
        _is_column_bag(child) for child in ast.iter_child_nodes(annotation) if isinstance(child, ast.expr)
    )


def _takes_column_bag(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = function.args
    if args.kwarg is not None and _name_of(args.kwarg.annotation or ast.Name("Any")) in _BAG_VALUES:
        return True  # ``**values: object`` is a column bag too
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if args.vararg is not None:
        every.append(args.vararg)
    return any(_is_column_bag(a.annotation) for a in every)


def _column_bag_offenders(module: str, tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        is_alias = isinstance(node, ast.AnnAssign) and _name_of(node.annotation) == "TypeAlias"
        if not is_alias and not isinstance(value, ast.Subscript | ast.BinOp):
            continue  # not a type (a statement, SQL text, a message)
        if value is not None and _is_column_bag(value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.extend(f"{module}:{ast.unparse(t)} (an alias of a column bag)" for t in targets)
    order = {id(node): index for index, node in enumerate(ast.walk(tree))}
    functions = sorted(_public_functions(tree), key=lambda pair: order[id(pair[1])])
    found.extend(f"{module}:{name}" for name, function in functions if _takes_column_bag(function))
    return found


def _public_fields(tree: ast.Module) -> list[tuple[str, ast.expr]]:
    """``(qualified name, annotation)`` of the annotated public fields of the module's public classes."""
    found: list[tuple[str, ast.expr]] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            fields = [item for item in node.body if isinstance(item, ast.AnnAssign)]
            found.extend(
                (f"{node.name}.{field.target.id}", field.annotation)
                for field in fields
                if isinstance(field.target, ast.Name) and not field.target.id.startswith("_")
            )
    return found


def _offenders(
    module: str, tree: ast.Module, *, fields: bool = False, constructors_only: bool = False
) -> list[str]:
    found: list[str] = []
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Name) and value.id == "Any":
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.extend(f"{module}:{ast.unparse(t)} (an alias of Any)" for t in targets)
    order = {id(node): index for index, node in enumerate(ast.walk(tree))}
    functions = sorted(_public_functions(tree), key=lambda pair: order[id(pair[1])])
    if constructors_only:
        functions = [(name, f) for name, f in functions if "." in name and f.name.startswith("from_")]
    found.extend(f"{module}:{name}" for name, function in functions if _signature_mentions_any(function))
    if fields:
        found.extend(
            f"{module}:{name}" for name, annotation in _public_fields(tree) if _mentions_any(annotation)
        )
    return found


def _files(path: str) -> list[Path]:
    """The module ``path`` names, or every module under the package it names."""
    where = SRC / path
    return [where] if where.suffix == ".py" else sorted(where.rglob("*.py"))


def _any_offenders(scope: str, module: str, tree: ast.Module) -> list[str]:
    return _offenders(module, tree, fields=scope in WITH_FIELDS, constructors_only=scope in CONSTRUCTORS)


def _bag_offenders(scope: str, module: str, tree: ast.Module) -> list[str]:
    return [] if scope in CONSTRUCTORS else _column_bag_offenders(module, tree)


def _all_offenders(check: Callable[[str, str, ast.Module], list[str]] = _any_offenders) -> list[str]:
    """What ``check(scope, module, tree)`` finds in every module of every scope."""
    found: list[str] = []
    for scope in (*PACKAGES, *CONSTRUCTORS):
        for file in _files(scope):
            module = ".".join(file.relative_to(SRC).with_suffix("").parts)
            found.extend(check(scope, module, ast.parse(file.read_text(), str(file))))
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


def test_no_public_function_of_services_or_repositories_takes_a_bag_of_columns() -> None:
    # given / when
    offenders = [o for o in _all_offenders(_bag_offenders) if o not in COLUMN_BAGS_ALLOWED]
    # then
    assert offenders == [], (
        "column values by name at a layer boundary (take a typed dataclass, or add to COLUMN_BAGS_ALLOWED "
        "with a reason):\n" + "\n".join(offenders)
    )


def test_every_allowed_column_bag_is_still_needed() -> None:
    # given
    found = set(_all_offenders(_bag_offenders))
    # then
    assert [a for a in COLUMN_BAGS_ALLOWED if a not in found] == []


def test_the_walk_sees_a_bag_of_columns_in_a_signature() -> None:
    # given
    tree = ast.parse(
        "ColumnValues: TypeAlias = Mapping[str, object]\n"
        "def f(session: Session, values: Mapping[str, object]) -> None: ...\n"
        "def g(rows: 'Sequence[dict[str, Any]]') -> None: ...\n"
        "def h(session: Session, **values: object) -> None: ...\n"
        "def k(values: typing.Mapping[str, typing.Any] | None) -> None: ...\n"
        "def fine(ids: Mapping[str, int], **labels: str) -> dict[str, object]: ...\n"
        "def _private(values: dict[str, object]) -> None: ...\n"
        "class C:\n    def m(self, values: dict[str, Any]) -> None: ..."
    )
    # when / then
    assert _column_bag_offenders("m", tree) == [
        "m:ColumnValues (an alias of a column bag)",
        "m:f",
        "m:g",
        "m:h",
        "m:k",
        "m:C.m",
    ]


def _json_value_alias() -> ast.expr:
    tree = ast.parse((SRC / "entitle/domain/model.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "JsonValue" and node.value:
            return node.value
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["JsonValue"]:
            return node.value
    raise AssertionError("domain/model.py declares no JsonValue")


def test_json_value_is_a_json_type_not_any() -> None:
    # given
    alias = _json_value_alias()
    if isinstance(alias, ast.Constant) and isinstance(alias.value, str):
        alias = ast.parse(alias.value, mode="eval").body
    # when
    members = set()
    pending = [alias]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            pending.extend((node.left, node.right))
        else:
            members.add(ast.unparse(node))
    # then
    assert not _mentions_any(alias), "JsonValue must not be (or contain) Any"
    assert members == {
        "dict[str, JsonValue]",
        "list[JsonValue]",
        "str",
        "int",
        "float",
        "bool",
        "None",
    }


def test_the_walk_sees_any_in_a_public_field_where_fields_are_checked() -> None:
    # given
    tree = ast.parse(
        "class Page:\n    rows: list[Any]\n    cursors: list[str]\n    _cache: Any\n"
        "    expression: sa.ColumnElement[Any]\n"
        "class _Plan:\n    statement: Any\n"
    )
    # when / then
    assert _offenders("m", tree, fields=True) == ["m:Page.rows"]
    assert _offenders("m", tree) == []


def test_the_walk_sees_any_in_a_graphql_types_constructor_only() -> None:
    # given
    tree = ast.parse(
        "class Tenant:\n"
        "    @classmethod\n    def from_row(cls, row: Any) -> Tenant: ...\n"
        "    @classmethod\n    def from_record(cls, record: TenantRecord) -> Tenant: ...\n"
        "    def resolve(self, value: Any) -> Any: ...\n"
        "def from_anything(x: Any) -> None: ...\n"
    )
    # when / then
    assert _offenders("m", tree, constructors_only=True) == ["m:Tenant.from_row"]


def test_the_graphql_types_constructors_and_the_page_are_in_the_walk() -> None:
    # given
    scopes = [(scope, file) for scope in (*PACKAGES, *CONSTRUCTORS) for file in _files(scope)]
    walked = {file.relative_to(SRC).as_posix() for _, file in scopes}
    # then
    assert "entitle/db/pagination.py" in walked
    assert {"entitle/graphql/subjects/types.py", "entitle/graphql/decisions/log.py"} <= walked
    assert all(scope in WITH_FIELDS for scope, file in scopes if file.name == "pagination.py")

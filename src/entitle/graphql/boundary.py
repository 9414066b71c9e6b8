"""The input boundary: every string and JSON value a request carries is checked here, once.

What is refused, with ``BAD_USER_INPUT`` naming the field (the argument path, e.g.
``input[0].metadata.note``), before anything executes:

- a NUL character (U+0000) or a lone surrogate (U+D800 to U+DFFF) in any string — arguments,
  nested input fields, list items, and the keys and strings of ``JSON`` values. PostgreSQL text
  and ``jsonb`` cannot hold NUL, and a lone surrogate is not Unicode (it cannot be encoded as
  UTF-8): refusing both here makes SQLite and PostgreSQL answer alike;
- a ``JSON`` value nested deeper than :data:`MAX_JSON_DEPTH`, larger than :data:`MAX_JSON_BYTES`
  once serialised, or holding a number JSON cannot carry back (an integer outside 64 bits, an
  infinite float). Whatever is stored can therefore always be read back and serialised.

How: each distinct document is analysed once (cached with the parse and validation): its literal
arguments are checked there, and the variables it declares are listed with their types and the
argument they feed. Per request, only the declared variables' values are walked, by type; a
decision with three ``String`` variables costs three regular-expression scans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from entitle.domain.errors import BadUserInput
from entitle.domain.text import refused_character
from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    Visitor,
    type_from_ast,
    value_from_ast_untyped,
    visit,
)

MAX_JSON_DEPTH = 32
"""Deepest nesting of a ``JSON`` value (an object or array inside another counts one level)."""
MAX_JSON_BYTES = 64 * 1024
"""Largest ``JSON`` value, measured as compact UTF-8 JSON."""
_MIN_INT, _MAX_INT = -(2**63), 2**64 - 1

JSON_SCALAR = "JSON"


def _unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _check_text(text: str, field: str) -> None:
    problem = refused_character(text)
    if problem is not None:
        raise BadUserInput(f"{field} {problem}", field=field)


def check_json(value: Any, field: str) -> None:
    """A ``JSON`` value: bounded depth and size, storable strings and numbers."""
    _walk_json(value, field, 0)
    if len(orjson.dumps(value)) > MAX_JSON_BYTES:
        raise BadUserInput(f"{field} is larger than {MAX_JSON_BYTES} bytes as JSON", field=field)


def _walk_json(value: Any, field: str, depth: int) -> None:
    if isinstance(value, str):
        _check_text(value, field)
    elif isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            raise BadUserInput(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels", field=field)
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(str(key), field)
                _walk_json(item, field, depth + 1)
        else:
            for item in value:
                _walk_json(item, field, depth + 1)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not _MIN_INT <= value <= _MAX_INT:
            raise BadUserInput(f"{field} holds an integer outside the 64-bit range", field=field)
    elif isinstance(value, float) and not math.isfinite(value):
        raise BadUserInput(f"{field} holds a number that is not finite", field=field)


def check_value(value: Any, type_: GraphQLInputType, field: str) -> None:
    """A variable's raw value, walked along its declared type; shapes that do not fit the type
    are left to graphql-core's coercion, which refuses them as ``GRAPHQL_VALIDATION_FAILED``."""
    type_ = _unwrap(type_)
    if value is None:
        return
    if isinstance(type_, GraphQLList):
        if isinstance(value, list):
            for index, item in enumerate(value):
                check_value(item, type_.of_type, f"{field}[{index}]")
        else:
            check_value(value, type_.of_type, field)
    elif isinstance(type_, GraphQLInputObjectType):
        if isinstance(value, dict):
            for name, item in value.items():
                definition = type_.fields.get(name)
                if definition is not None:
                    check_value(item, definition.type, f"{field}.{name}")
    elif isinstance(type_, GraphQLScalarType):
        if type_.name == JSON_SCALAR:
            check_json(value, field)
        elif isinstance(value, str):
            _check_text(value, field)


@dataclass(frozen=True, slots=True)
class DocumentInputs:
    """What one document needs checked: its literal arguments' verdict and its variables."""

    literal_error: BadUserInput | None
    variables: tuple[tuple[str, GraphQLInputType, str], ...]
    """(variable name, declared type, the argument path it feeds — the field errors name)."""

    def check(self, variables: dict[str, Any] | None) -> BadUserInput | None:
        if self.literal_error is not None:
            return self.literal_error
        if not variables:
            return None
        try:
            for name, type_, field in self.variables:
                value = variables.get(name)
                if value is not None:
                    check_value(value, type_, field)
        except BadUserInput as error:
            return error
        return None


class _Literals(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.error: BadUserInput | None = None
        self.variable_fields: dict[str, str] = {}

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        argument = self.type_info.get_argument()
        if argument is not None:
            try:
                self._literal(node.value, argument.type, node.name.value)
            except BadUserInput as error:
                if self.error is None:
                    self.error = error

    def _literal(self, node: ValueNode, type_: Any, field: str) -> None:
        type_ = _unwrap(type_)
        if isinstance(node, VariableNode):
            self.variable_fields.setdefault(node.name.value, field)
        elif isinstance(type_, GraphQLScalarType) and type_.name == JSON_SCALAR:
            names: dict[str, Any] = {}
            self._variables_in(node, field, names)
            check_json(value_from_ast_untyped(node, names), field)
        elif isinstance(node, ListValueNode) and isinstance(type_, GraphQLList):
            for index, item in enumerate(node.values):
                self._literal(item, type_.of_type, f"{field}[{index}]")
        elif isinstance(node, ListValueNode):
            for item in node.values:
                self._literal(item, type_, field)
        elif isinstance(type_, GraphQLList):
            self._literal(node, type_.of_type, field)
        elif isinstance(node, ObjectValueNode) and isinstance(type_, GraphQLInputObjectType):
            for entry in node.fields:
                definition = type_.fields.get(entry.name.value)
                if definition is not None:
                    self._literal(entry.value, definition.type, f"{field}.{entry.name.value}")
        elif isinstance(node, StringValueNode):
            _check_text(node.value, field)

    def _variables_in(self, node: ValueNode, field: str, names: dict[str, Any]) -> None:
        """Variables inside a JSON literal: recorded (checked per request), and read as null here."""
        if isinstance(node, VariableNode):
            self.variable_fields.setdefault(node.name.value, field)
            names[node.name.value] = None
        elif isinstance(node, ListValueNode):
            for item in node.values:
                self._variables_in(item, field, names)
        elif isinstance(node, ObjectValueNode):
            for entry in node.fields:
                self._variables_in(entry.value, field, names)


def analyse(schema: GraphQLSchema, document: DocumentNode) -> DocumentInputs:
    """Check a (valid) document's literals and list its variables; done once per document."""
    type_info = TypeInfo(schema)
    literals = _Literals(type_info)
    visit(document, TypeInfoVisitor(type_info, literals))
    variables: list[tuple[str, GraphQLInputType, str]] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for variable in definition.variable_definitions or ():
            name = variable.variable.name.value
            type_ = type_from_ast(schema, variable.type)
            if type_ is not None:
                field = literals.variable_fields.get(name, name)
                variables.append((name, type_, field))  # type: ignore[arg-type]
    return DocumentInputs(literals.error, tuple(variables))

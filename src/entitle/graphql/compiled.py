"""Compiled queries: the hot documents answered without strawberry's and graphql-core's per-request work.

A decision (``isEntitledTo``) is pure CPU on cached data; answered the general way, about three
quarters of its cost is the framework's per-request machinery (extension hooks, building an ``Info``
per field, converting arguments, completing every leaf through the executor). A frontend or an SDK
sends the same few documents over and over, so each such document is compiled once into a plan that
does only what the general path would do for it:

1. coerce the variables and the root field's arguments by graphql-core's rules (literals and defaults
   once, at compile time, by ``get_argument_values``; sent values per request, the built-in scalars
   directly and anything else by ``coerce_input_value``), and check them at the input boundary
   (``DocumentInputs.check``);
2. call the root field's own resolver, with strawberry's argument conversion, with an ``info`` that
   carries the request's context (the only part of ``Info`` these resolvers read);
3. complete the selection: basic fields read the attribute, fields with resolvers call them, leaves
   are serialized by the schema's own scalar and enum types, in selection order.

What compiles (anything else takes the general path, always): a document already parsed and
validated without errors by the general path (so every validation rule has passed), with one query
operation whose selection is one field of ``COMPILED_ROOTS``, no fragments, no directives, no
duplicate response keys, and, below the root, only fields without field extensions, whose resolvers
(if any) are among ``COMPILED_RESOLVERS`` and whose object-typed children are basic fields (so no
dataloader is ever awaited field by field). A request takes the plan only as a POSTed JSON object with
no ``extensions`` and a matching (or no) ``operationName``.

Anything unusual on the way (a variable that does not coerce, an input the boundary refuses, an
unauthenticated caller, a resolver that raises, a value that does not serialize) abandons the plan
and the request is answered by the general path from the start, so every error is the general
path's own. The resolver runs at most twice then; the decision metric may count such a request twice
(a resolver raises before it records a decision, so only a value that fails to serialize could).
``tests/graphql/test_compiled.py`` runs documents through both paths and compares the bytes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.utilities import coerce_input_value
from strawberry.schema.schema import Schema as StrawberrySchema
from strawberry.types.arguments import StrawberryArgument, convert_argument
from strawberry.types.base import StrawberryOptional
from strawberry.types.field import StrawberryField

from entitle.graphql.boundary import DocumentInputs
from entitle.graphql.core.context import Context
from entitle.graphql.documents import DocumentCache
from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
    is_input_type,
    type_from_ast,
)

COMPILED_ROOTS = frozenset({"isEntitledTo"})
"""Root query fields whose documents are compiled (the check asked before every guarded action)."""
COMPILED_RESOLVERS = frozenset(
    {("EntitlementDecision", "message"), ("EntitlementDecision", "upgradeOptions")}
)
"""Fields with resolvers a plan may call below the root: each reads only ``info.context``."""
_DEFINITION = "strawberry-definition"
"""Where strawberry keeps a graphql-core field's ``StrawberryField`` (its ``DEFINITION_BACKREF``)."""
_PASSTHROUGH = (str, int, float, bool)


class Abandon(Exception):
    """The plan cannot answer this request exactly as the general path would: take the general path."""


class ResolveInfo:
    """What the compiled fields' resolvers read of strawberry's ``Info``: the request's context."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context


Call = Callable[[Any, ResolveInfo, dict[str, Any]], Any]
"""A resolver called as strawberry calls it: ``call(source, info, arguments by python name)``."""


@dataclass(frozen=True, slots=True)
class _Argument:
    graphql_name: str
    python_name: str
    type_: Any
    passthrough: bool


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    python_name: str | None
    """None for ``__typename``."""
    resolve: Call | None
    """The field's resolver (see ``_resolver_call``), or None: read the attribute."""
    complete: Callable[[Any], Any]
    typename: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """One compiled document: its root field, how to call its resolver and how to complete the result."""

    operation_name: str | None
    key: str
    call_root: Call
    arguments: tuple[_Argument, ...]
    fields: tuple[_Field, ...]
    inputs: DocumentInputs
    """Where the document's inputs are, for the input boundary's per-request check."""
    variables: tuple[_Variable, ...]
    variable_defaults: dict[str, Any]
    argument_base: dict[str, Any]
    """The root field's arguments when no variable is sent: literals and defaults, coerced once."""
    argument_variables: tuple[tuple[str, str, bool], ...]
    """(argument, variable, argument is non-null) for each argument given by a variable."""

    def coerce(self, variables: dict[str, Any]) -> dict[str, Any]:
        """The root field's arguments, as ``get_variable_values`` and ``get_argument_values`` give them."""
        coerced = dict(self.variable_defaults)
        for variable in self.variables:
            name = variable.name
            if name not in variables:
                if variable.required:
                    raise Abandon
                continue
            coerced[name] = variable.coerce(variables[name])
        arguments = dict(self.argument_base)
        for argument, name, non_null in self.argument_variables:
            if name in coerced:
                value = coerced[name]
                if value is None and non_null:
                    raise Abandon
                arguments[argument] = value
        return arguments

    async def answer(
        self, schema: StrawberrySchema, context: Context, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """``{"data": {key: result}}`` exactly as the general path gives it, or :class:`Abandon`."""
        raw = self.coerce(variables)
        info = ResolveInfo(context)
        kwargs: dict[str, Any] = {}
        for argument in self.arguments:
            if argument.graphql_name in raw:
                value = raw[argument.graphql_name]
                if value is not None and not argument.passthrough:
                    value = convert_argument(
                        value,
                        argument.type_,
                        schema.schema_converter.scalar_registry,
                        schema.config,
                        info,  # type: ignore[arg-type]
                        path=(argument.graphql_name,),
                    )
                kwargs[argument.python_name] = value
        result = self.call_root(None, info, kwargs)
        if inspect.isawaitable(result):
            result = await result
        if result is None:  # every compiled root is non-null
            raise Abandon
        completed = {}
        for field in self.fields:
            completed[field.key] = await _complete_field(field, result, info)
        return {"data": {self.key: completed}}


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class _Variable:
    """One declared variable: how a sent value is coerced (graphql-core's rules, or Abandon)."""

    name: str
    type_: GraphQLInputType
    required: bool
    """Non-null without a default: must be sent."""

    def coerce(self, value: Any) -> Any:
        type_ = self.type_
        if value is None:
            if isinstance(type_, GraphQLNonNull):
                raise Abandon
            return None
        named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        # The built-in scalars' common cases, as their parse_value accepts them; anything else
        # (5.0 for an Int, a number for an ID...) goes through graphql-core or the general path.
        if named is GraphQLString or named is GraphQLID:
            if type(value) is str:
                return value
        elif named is GraphQLInt:
            if type(value) is int and _INT_MIN <= value <= _INT_MAX:
                return value
        elif named is GraphQLBoolean:
            if type(value) is bool:
                return value
        else:
            coerced = coerce_input_value(value, type_)
            if coerced is not Undefined:
                return coerced
        raise Abandon


def _variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> tuple[tuple[_Variable, ...], dict[str, Any]]:
    """Each declared variable's plan, and the coerced defaults (as ``get_variable_values`` of ``{}``)."""
    plans, defaults = [], {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if type_ is None or not is_input_type(type_):
            raise Abandon
        alone = get_variable_values(schema, [definition], {})
        required = isinstance(alone, list)
        if not required:
            assert isinstance(alone, VariableValues)
            defaults.update(alone.coerced)
        plans.append(_Variable(name, type_, required))
    return tuple(plans), defaults


def _root_arguments(
    field_def: GraphQLField, node: FieldNode
) -> tuple[dict[str, Any], tuple[tuple[str, str, bool], ...]]:
    """The arguments when no variable is sent, and which arguments come from which variable."""
    try:
        base = get_argument_values(field_def, node, VariableValues({}, {}))
    except GraphQLError:
        raise Abandon from None
    from_variables = []
    for argument in node.arguments or ():
        if isinstance(argument.value, VariableNode):
            name = argument.name.value
            arg_type = field_def.args[name].type
            from_variables.append((name, argument.value.name.value, isinstance(arg_type, GraphQLNonNull)))
    return base, tuple(from_variables)


async def _complete_field(field: _Field, source: Any, info: ResolveInfo) -> Any:
    if field.python_name is None:
        return field.typename
    if field.resolve is not None:
        value = field.resolve(source, info, {})
        if inspect.isawaitable(value):
            value = await value
    else:
        value = getattr(source, field.python_name)
    return field.complete(value)


class CompiledQueries:
    """Plans by query text, kept beside the parsed document in the schema's ``DocumentCache``."""

    def __init__(self, schema: StrawberrySchema, documents: DocumentCache) -> None:
        self._schema = schema
        self._documents = documents

    def plan(self, query: str) -> Plan | None:
        """The plan of a document the general path has validated, or None (not compiled, not compilable)."""
        parsed = self._documents.validated(query)
        if parsed is None:
            return None
        if parsed.plan is False:
            try:
                inputs = self._documents.inputs(self._schema._schema, parsed)
                parsed.plan = _compile(self._schema, parsed.document.definitions, inputs)
            except Abandon:
                parsed.plan = None
        plan: Plan | None = parsed.plan
        return plan


def _compile(schema: StrawberrySchema, definitions: Any, inputs: DocumentInputs) -> Plan:
    if len(definitions) != 1 or not isinstance(definitions[0], OperationDefinitionNode):
        raise Abandon
    operation: OperationDefinitionNode = definitions[0]
    if operation.operation != OperationType.QUERY or operation.directives:
        raise Abandon
    if any(d.directives for d in operation.variable_definitions or ()):
        raise Abandon
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        raise Abandon
    node: FieldNode = selections[0]
    name = node.name.value
    query_type = schema._schema.query_type
    if name not in COMPILED_ROOTS or node.directives or query_type is None:
        raise Abandon
    field_def = query_type.fields[name]
    root: StrawberryField | None = (field_def.extensions or {}).get(_DEFINITION)
    if root is None or root.extensions or root.base_resolver is None or node.selection_set is None:
        raise Abandon
    call_root = _resolver_call(root)
    arguments = tuple(_argument(schema, argument) for argument in root.arguments)
    return_type = field_def.type
    if not isinstance(return_type, GraphQLNonNull) or not isinstance(return_type.of_type, GraphQLObjectType):
        raise Abandon
    fields = _selection(schema, return_type.of_type, node.selection_set, resolvers_allowed=True)
    variables, variable_defaults = _variables(schema._schema, operation)
    argument_base, argument_variables = _root_arguments(field_def, node)
    return Plan(
        operation_name=operation.name.value if operation.name else None,
        key=node.alias.value if node.alias else name,
        call_root=call_root,
        arguments=arguments,
        fields=fields,
        inputs=inputs,
        variables=variables,
        variable_defaults=variable_defaults,
        argument_base=argument_base,
        argument_variables=argument_variables,
    )


def _argument(schema: StrawberrySchema, argument: StrawberryArgument) -> _Argument:
    assert argument.python_name
    type_ = argument.type
    inner = type_.of_type if isinstance(type_, StrawberryOptional) else type_
    return _Argument(
        graphql_name=schema.config.name_converter.from_argument(argument),
        python_name=argument.python_name,
        type_=type_,
        passthrough=inner in _PASSTHROUGH,
    )


def _selection(
    schema: StrawberrySchema,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    resolvers_allowed: bool,
) -> tuple[_Field, ...]:
    fields: list[_Field] = []
    keys: set[str] = set()
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            raise Abandon
        name = selection.name.value
        key = selection.alias.value if selection.alias else name
        if key in keys:
            raise Abandon  # merged by the executor: not worth reproducing
        keys.add(key)
        if name == "__typename":
            fields.append(_Field(key, None, None, _identity, typename=parent.name))
            continue
        field_def = parent.fields[name]
        definition: StrawberryField | None = (field_def.extensions or {}).get(_DEFINITION)
        if definition is None or definition.extensions or definition.python_name is None:
            raise Abandon
        resolve = None
        if definition.base_resolver is not None:
            if not (resolvers_allowed and (parent.name, name) in COMPILED_RESOLVERS):
                raise Abandon
            if definition.arguments:
                raise Abandon
            resolve = _resolver_call(definition)
        complete = _completion(schema, field_def.type, selection.selection_set)
        fields.append(_Field(key, definition.python_name, resolve, complete))
    return tuple(fields)


def _resolver_call(definition: StrawberryField) -> Call:
    """``call(source, info, kwargs)`` calls the field's resolver as strawberry would: ``source`` as ``self``
    when it takes one, ``info`` by its parameter's name, the arguments by name (no ``root``/``parent``)."""
    resolver: Any = definition.base_resolver
    if resolver is None or resolver.root_parameter is not None or resolver.parent_parameter is not None:
        raise Abandon
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    takes_self = resolver.self_parameter is not None

    def call(source: Any, info: ResolveInfo, kwargs: dict[str, Any]) -> Any:
        if info_name is not None:
            kwargs[info_name] = info
        return resolver(source, **kwargs) if takes_self else resolver(**kwargs)

    return call


def _identity(value: Any) -> Any:
    return value


def _completion(
    schema: StrawberrySchema, type_: GraphQLOutputType, selection_set: SelectionSetNode | None
) -> Callable[[Any], Any]:
    """How graphql-core's ``complete_value`` would turn a resolved value of ``type_`` into JSON."""
    if isinstance(type_, GraphQLNonNull):
        inner = _completion(schema, type_.of_type, selection_set)

        def non_null(value: Any) -> Any:
            if value is None:
                raise Abandon
            return inner(value)

        return non_null
    if isinstance(type_, GraphQLList):
        item = _completion(schema, type_.of_type, selection_set)

        def listed(value: Any) -> Any:
            return None if value is None else [item(x) for x in value]

        return listed
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        if selection_set is not None:
            raise Abandon
        serialize = type_.serialize

        def leaf(value: Any) -> Any:
            if value is None:
                return None
            try:
                serialized = serialize(value)
            except Exception:
                raise Abandon from None
            if serialized is None:
                raise Abandon
            return serialized

        return leaf
    if isinstance(type_, GraphQLObjectType) and selection_set is not None:
        fields = _selection(schema, type_, selection_set, resolvers_allowed=False)
        is_type_of = type_.is_type_of  # strawberry's (for types with interfaces) reads no `info`

        def obj(value: Any) -> Any:
            if value is None:
                return None
            if is_type_of is not None and not is_type_of(value, None):  # type: ignore[arg-type]
                raise Abandon
            return {
                f.key: f.typename if f.python_name is None else f.complete(getattr(value, f.python_name))
                for f in fields
            }

        return obj
    raise Abandon  # interfaces, unions: resolved by type at run time

"""GraphQL domain folders stay apart: each imports graphql/core and itself, not its neighbours.

``src/entitle/graphql/<domain>/`` (catalog, subjects, entitlements, ...) may import
``entitle.graphql.core`` (what several domains share: context, relay, permissions, scalars,
enums, payloads, loaders), its own folder, and the layers below (``entitle.services``,
``entitle.domain``, ``entitle.clock``). A reference to another domain is allowed only when it is
listed in ``CROSS_DOMAIN`` with its reason (a type that returns another domain's type, as the
schema's graph does), never to another domain's mutations, and the domains' imports form no cycle,
counting every import: at module level, under ``TYPE_CHECKING`` and inside a function alike (a cycle
the schema's graph needs, e.g. Plan.entitlements -> Entitlement.plan, goes through a strawberry lazy
reference, a module path and no import: ``graphql/core/entitlement_listing.py``). ``graphql/core``
imports no domain at all. The AST of every module is read, so an import inside a function counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
GRAPHQL = SRC / "entitle" / "graphql"
NOT_DOMAINS = {"core", "static", "__pycache__"}
DOMAINS = sorted(p.name for p in GRAPHQL.iterdir() if p.is_dir() and p.name not in NOT_DOMAINS)
BELOW = ("entitle.services", "entitle.domain", "entitle.clock")
CORE_MAY_IMPORT = ("entitle.graphql.core", *BELOW, "entitle.auth")

CROSS_DOMAIN: dict[tuple[str, str], str] = {
    # (importing domain, imported module): why the reference is inherent
    ("entitlements", "catalog.types"): "Entitlement.plan / .feature return Plan / Feature",
    ("entitlements", "subjects.types"): "Entitlement.tenant / .user return Tenant / User",
    ("flags", "catalog.types"): "FeatureFlag.features returns Features",
    ("routes", "catalog.types"): "ApiRoute.feature returns the Feature",
    ("decisions", "catalog.types"): "a justification names its Plan, effective entitlements their Features",
    ("decisions", "entitlements.types"): "a justification names its Entitlement",
    ("decisions", "flags.types"): "a justification names its FeatureFlag",
    ("decisions", "subjects.types"): "EffectiveEntitlements.tenant / .user are Tenant / User",
    ("changes", "entitlements.types"): "Change.entitlement returns the Entitlement (lazy type)",
    ("changes", "decisions.types"): "entitlementsChanged carries EffectiveEntitlements (lazy type)",
    ("changes", "decisions.queries"): "entitlementsChanged renders EffectiveEntitlements as effective() does "
    "(in the resolver)",
    ("usage", "decisions.types"): "reservations and usage reports return an EntitlementDecision",
    ("webhooks", "changes.types"): "WebhookDelivery.change returns the Change",
    ("lifecycle", "catalog.types"): "plan versions and plan changes return Plans",
    ("lifecycle", "catalog.inputs"): "publishPlanVersion takes the plan's PlanFeatureInputs",
    ("lifecycle", "entitlements.types"): "changePlan returns the ended and started Entitlements",
}


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """``(module, at import time)`` per import; ``from a import b`` names ``a.b``. Imports under
    ``if TYPE_CHECKING:`` and in function bodies are not made at import time."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, at_import_time: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, at_import_time) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.extend((f"{node.module}.{alias.name}", at_import_time) for alias in node.names)
        deferred = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
            isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        )
        for child in ast.iter_child_nodes(node):
            visit(child, at_import_time and not deferred)

    visit(tree, True)
    return found


def _graphql_imports(folder: str) -> list[tuple[str, str, bool]]:
    """``(module file, imported entitle module, at import time)`` for every module under ``folder``."""
    found = []
    for path in sorted((GRAPHQL / folder).rglob("*.py")):
        for module, at_import_time in _imports(ast.parse(path.read_text())):
            if module.startswith("entitle."):
                found.append((str(path.relative_to(SRC)), module, at_import_time))
    return found


def _domain_of(module: str) -> tuple[str, str] | None:
    """``("entitlements", "entitlements.types")`` for ``entitle.graphql.entitlements.types.Entitlement``."""
    parts = module.split(".")
    if len(parts) < 4 or parts[:2] != ["entitle", "graphql"] or parts[2] not in DOMAINS:
        return None
    return parts[2], ".".join(parts[2:4])


def test_the_domains_are_the_folders_we_know() -> None:
    assert {"catalog", "subjects", "entitlements", "decisions", "changes", "usage"} <= set(DOMAINS)


def test_a_domain_imports_only_core_itself_the_layers_below_and_listed_neighbours() -> None:
    # given
    offences: list[str] = []
    used: set[tuple[str, str]] = set()
    # when
    for domain in DOMAINS:
        for where, module, _ in _graphql_imports(domain):
            target = _domain_of(module)
            if target is None:
                allowed = module.startswith(("entitle.graphql.core.", *(b + "." for b in BELOW)))
                if not allowed:
                    offences.append(f"{where}: {module} (not graphql/core, its own folder or a layer below)")
                continue
            other, other_module = target
            if other == domain:
                continue
            if other_module.endswith(".mutations"):
                offences.append(
                    f"{where}: {module} (another domain's mutations: move what is shared to core)"
                )
            elif (domain, other_module) not in CROSS_DOMAIN:
                offences.append(
                    f"{where}: {module} (another domain: move it to core or list it with a reason)"
                )
            else:
                used.add((domain, other_module))
    # then
    assert offences == []
    assert set(CROSS_DOMAIN) - used == set(), "listed references no module makes any more: remove them"


def test_graphql_core_imports_no_domain() -> None:
    # when
    offences = [
        f"{where}: {module}"
        for where, module, _ in _graphql_imports("core")
        if not module.startswith(tuple(m + "." for m in CORE_MAY_IMPORT))
    ]
    # then
    assert offences == []


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for following in sorted(edges.get(node, ())):
            if cycle := visit(following):
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(edges):
        if cycle := visit(node):
            return cycle
    return None


def _domain_edges(*, deferred: bool) -> dict[str, set[str]]:
    """Domain -> the domains it imports (``deferred``: also under ``TYPE_CHECKING`` and in functions)."""
    edges: dict[str, set[str]] = {}
    for domain in DOMAINS:
        for _, module, at_import_time in _graphql_imports(domain):
            target = _domain_of(module)
            if (at_import_time or deferred) and target is not None and target[0] != domain:
                edges.setdefault(domain, set()).add(target[0])
    return edges


def test_no_cycle_among_the_domains_imported_when_a_module_loads() -> None:
    assert _cycle(_domain_edges(deferred=False)) is None


def test_no_cycle_among_the_domains_counting_deferred_imports() -> None:
    # given every import a domain makes, whenever it runs
    edges = _domain_edges(deferred=True)
    # then no domain reaches itself through others (not even through a lazy annotation's import)
    assert _cycle(edges) is None


def test_the_checks_see_deferred_imports_and_cycles() -> None:
    # given
    source = """
from typing import TYPE_CHECKING
from entitle.graphql.catalog.types import Plan
if TYPE_CHECKING:
    from entitle.graphql.entitlements.types import Entitlement
def later():
    from entitle.graphql.entitlements.queries import list_entitlements
"""
    # when
    found = _imports(ast.parse(source))
    # then
    assert found == [
        ("typing.TYPE_CHECKING", True),
        ("entitle.graphql.catalog.types.Plan", True),
        ("entitle.graphql.entitlements.types.Entitlement", False),
        ("entitle.graphql.entitlements.queries.list_entitlements", False),
    ]
    assert _domain_of("entitle.graphql.entitlements.types.Entitlement") == (
        "entitlements",
        "entitlements.types",
    )
    assert _domain_of("entitle.graphql.core.relay.Node") is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None

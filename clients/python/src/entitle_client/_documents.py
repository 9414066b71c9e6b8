"""The GraphQL documents the client sends."""

DECISION_FIELDS = """
  isEntitled justification value limit unlimited used remaining resetsAt overage warning expiresAt message
  upgradeOptions { key }
"""

EFFECTIVE_FIELDS = """
  permissions features { feature { key } value limit unlimited used remaining expiresAt }
"""

IS_ENTITLED = f"""
query EntitleClientCheck($t: String, $u: String, $f: String, $p: String, $r: RouteInput, $n: Int,
    $m: String) {{
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, permissionKey: $p, route: $r, usage: $n,
    minRevision: $m) {{ {DECISION_FIELDS} }}
}}
"""

EFFECTIVE = f"""
query EntitleClientEffective($t: String, $u: String, $m: String) {{
  effectiveEntitlements(tenantKey: $t, userKey: $u, minRevision: $m) {{ {EFFECTIVE_FIELDS} }}
}}
"""

REPORT_USAGE = f"""
mutation EntitleClientReport($input: ReportUsageInput!) {{
  reportUsage(input: $input) {{ {DECISION_FIELDS} }}
}}
"""

RESERVATION_FIELDS = f"id status amount committed expiresAt decision {{ {DECISION_FIELDS} }}"

RESERVE_USAGE = f"""
mutation EntitleClientReserve($input: ReserveUsageInput!) {{
  reserveUsage(input: $input) {{ {RESERVATION_FIELDS} }}
}}
"""

COMMIT_USAGE = f"""
mutation EntitleClientCommit($id: ID!, $amount: Int) {{
  commitUsage(reservationId: $id, amount: $amount) {{ {RESERVATION_FIELDS} }}
}}
"""

RELEASE_USAGE = f"""
mutation EntitleClientRelease($id: ID!) {{
  releaseUsage(reservationId: $id) {{ {RESERVATION_FIELDS} }}
}}
"""

ENTITLEMENTS_CHANGED = f"""
subscription EntitleClientChanges($t: String, $u: String) {{
  entitlementsChanged(tenantKey: $t, userKey: $u) {{ revision effective {{ {EFFECTIVE_FIELDS} }} }}
}}
"""

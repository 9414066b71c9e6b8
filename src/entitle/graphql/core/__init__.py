"""What several GraphQL domains share, so no domain folder imports another's resolvers.

- ``context``: the per-request ``Context`` and ``Info``; ``loaders``: its per-request dataloaders.
- ``relay``: the ``Node`` interface, global ids and connections (strawberry.relay's protocol).
- ``permissions``: strawberry permission classes; ``subjects``: the subject a caller may ask about.
- ``consistency``: ``minRevision`` (read your own writes).
- ``scalars``, ``enums``, ``inputs``, ``payloads``, ``batches``: types several domains use.

A module here imports no domain folder (``tests/test_graphql_domains.py`` holds both rules).
"""

"""Entitle: a self-hostable, multi-tenant entitlements service with a GraphQL API."""

__version__ = "0.1.0"

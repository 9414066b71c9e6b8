"""Payloads several domains return, so no domain imports another domain's mutations."""

from __future__ import annotations

import strawberry


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID

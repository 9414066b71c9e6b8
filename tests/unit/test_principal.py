"""Who a change names as its actor (contract §9)."""

from __future__ import annotations

from entitle.auth import Principal


def test_a_management_key_acts_under_its_name() -> None:
    assert Principal(kind="MANAGEMENT", name="provisioning").actor == "provisioning"


def test_a_user_token_acts_as_user_and_its_key_even_though_its_name_is_set() -> None:
    assert Principal(kind="USER", name="alice", tenant_key="acme", user_key="alice").actor == "user:alice"

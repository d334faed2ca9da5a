"""Users, tokens, grants, promotion requests and alias history in the SQL store (sqlite and
PostgreSQL)."""

from __future__ import annotations

import pytest

from trk import actor as acting
from trk.exceptions import AlreadyExists, InvalidState, NotFound, PermissionDenied
from trk.store.promotions import APPROVED


def test_users_grants_and_tokens(store) -> None:  # noqa: ANN001
    access = store.access
    bob = access.create_user("bob", "hash-1")
    with pytest.raises(AlreadyExists):
        access.create_user("bob", "hash-2")
    access.grant("experiment", "7", "bob", "READ")
    access.grant("registered_model", "iris", "bob", "EDIT")
    with pytest.raises(AlreadyExists):
        access.grant("experiment", "7", "bob", "MANAGE")
    access.set_grant("experiment", "7", "bob", "MANAGE")
    assert access.get_grant("experiment", "7", "bob") == "MANAGE"
    assert access.grants_of("registered_model", "bob") == {"iris": "EDIT"}
    access.rename_model("iris", "iris2")
    assert access.get_grant("registered_model", "iris2", "bob") == "EDIT"

    info = access.add_token("bob", "ci", "trk_secret-token-value")
    assert access.user_for_token("trk_secret-token-value") == bob
    assert access.user_for_token("trk_other") is None
    assert [t.name for t in access.list_tokens("bob")] == ["ci"]
    access.revoke_token("bob", info.id)
    assert access.user_for_token("trk_secret-token-value") is None
    with pytest.raises(NotFound):
        access.revoke_token("bob", info.id)

    access.add_token("bob", "ci", "trk_second")
    access.delete_user("bob")  # its grants and tokens go with it
    assert access.find_user("bob") is None
    assert access.user_for_token("trk_second") is None
    assert access.get_grant("experiment", "7", "bob") is None


def test_promotions_are_decided_once_by_someone_else_and_moves_are_recorded(
    store, tmp_path
) -> None:  # noqa: ANN001
    store.create_registered_model("m")
    store.create_model_version("m", str(tmp_path))
    asked = store.promotions.request("m", "champion", 1, "alice")
    with pytest.raises(PermissionDenied):
        store.promotions.decide("m", asked.request_id, "alice", APPROVED)
    with acting.acting_as(acting.Actor("alice", approver="bob", request_id=asked.request_id)):
        store.set_registered_model_alias("m", "champion", 1)
    assert store.promotions.decide("m", asked.request_id, "bob", APPROVED).state == APPROVED
    with pytest.raises(InvalidState):
        store.promotions.decide("m", asked.request_id, "carol", APPROVED)
    with acting.acting_as(acting.Actor("carol")):
        store.delete_registered_model_alias("m", "champion")
    moves = [(m.alias, m.version, m.actor, m.approver) for m in store.promotions.history("m")]
    assert moves == [("champion", 1, "alice", "bob"), ("champion", None, "carol", None)]

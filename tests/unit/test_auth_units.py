"""Passwords, tokens and role/district checks (SPEC §4), without a database."""

import pytest

from app.auth.permissions import ANONYMOUS, Actor, require_audit_reader, require_district, require_parcel_editor
from app.auth.security import hash_password, issue_token, read_token, verify_password
from app.errors import ForbiddenDistrict, ForbiddenRole, Unauthenticated

KEY = b"k" * 32
OFFICER = Actor(1, "officer.east", "district_officer", "310115")


def test_passwords_are_stored_as_argon2_hashes():
    hashed = hash_password("secret-pass")
    assert hashed.startswith("$argon2") and "secret-pass" not in hashed
    assert verify_password(hashed, "secret-pass")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "secret-pass")


def test_tokens_carry_the_user_and_expire():
    token = issue_token(KEY, 7, "bureau", ttl_seconds=60, now=1000)
    claims = read_token(KEY, token, now=1030)
    assert claims is not None and (claims.user_id, claims.username) == (7, "bureau")
    assert read_token(KEY, token, now=1061) is None


def test_a_tampered_or_foreign_token_is_rejected():
    token = issue_token(KEY, 7, "bureau", ttl_seconds=60, now=1000)
    payload, signature = token.split(".")
    assert read_token(KEY, payload + "x." + signature, now=1001) is None
    assert read_token(b"other-key" * 4, token, now=1001) is None
    assert read_token(KEY, "garbage", now=1001) is None


def test_district_officers_write_only_in_their_district():
    require_parcel_editor(OFFICER, ["310115"], "edit parcels")
    with pytest.raises(ForbiddenDistrict) as err:
        require_parcel_editor(OFFICER, ["310115", "310112"], "edit parcels")
    assert err.value.numbers == {"your_district": "310115", "district_code": "310112"}


def test_bureau_is_not_scoped_to_a_district():
    require_district(Actor(2, "bureau", "bureau"), ["310112", None], "edit parcels")


@pytest.mark.parametrize("role", ["viewer", "evaluator", "admin"])
def test_other_roles_may_not_edit_parcels(role):
    with pytest.raises(ForbiddenRole):
        require_parcel_editor(Actor(3, "x", role, "310115" if role == "evaluator" else None), ["310115"], "edit")


def test_anonymous_readers_are_asked_to_log_in_before_writing():
    with pytest.raises(Unauthenticated):
        require_parcel_editor(ANONYMOUS, ["310115"], "edit parcels")


def test_only_bureau_admin_and_viewer_read_the_audit_log():
    for role in ("bureau", "admin", "viewer"):
        require_audit_reader(Actor(4, "x", role))
    with pytest.raises(ForbiddenRole):
        require_audit_reader(OFFICER)

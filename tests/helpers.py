"""Assertions shared by tests."""

from __future__ import annotations


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    """Assert the SPEC error shape and return the error object."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["details"], dict), err
    return err

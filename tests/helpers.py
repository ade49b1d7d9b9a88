"""Assertions shared by the API tests."""

from typing import Any

import httpx

from tests.conftest import Member

# Ids that no team owns: a well-formed one, one that is not digits, and one too long to be an id.
UNKNOWN_IDS = ("1234567890123456789", "abc", "12345678901234567890123")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an error in the one format, with a request id; returns the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert response.headers["x-request-id"]
    return error


def failing_fields(response: httpx.Response) -> list[str]:
    error = assert_error(response, 422, "VALIDATION_ERROR")
    return [field["field"] for field in error["details"]["fields"]]


async def create(client: httpx.AsyncClient, member: Member, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=member.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created

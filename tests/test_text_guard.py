"""The text guard's checks on their own: what counts as unstorable, and where it is reported."""

import pytest

from platform_server.text_guard import (
    describe,
    form_body_location,
    json_body_location,
    path_location,
    query_location,
    unstorable_location,
)


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "plain"}',
        b'{"title": "caf\xc3\xa9 \\u00e9"}',
        # A surrogate pair is one character (here an emoji), in either case of hex digits.
        b'{"title": "\\ud83d\\ude80", "t": "\\uD83D\\uDE80"}',
        # An escaped backslash followed by "u0000" is the text \u0000, not a NUL.
        b'{"title": "\\\\u0000 and \\\\ud800"}',
        b"",
    ],
)
def test_storable_json_bodies_pass(body: bytes) -> None:
    assert json_body_location(body) is None


@pytest.mark.parametrize(
    ("body", "location"),
    [
        (b'{"title": "a\\u0000"}', ("body", "title")),
        (b'{"a": {"b": ["ok", "\\ud800"]}}', ("body", "a", "b", 1)),
        (b'{"\\udfff": 1}', ("body", "\udfff")),
        # A high half followed by anything but a low half is alone.
        (b'{"t": "\\ud83d\\u0041"}', ("body", "t")),
        (b'{"t": "\\ude80\\ud83d"}', ("body", "t")),
        (b'{"t": "\xed\xa0\x80"}', ("body",)),
        (b'{"t": "\x00"}', ("body",)),
        # Suspect and not JSON: refused rather than left to a laxer parser downstream.
        (b'{"t": "\\u0000"', ("body",)),
    ],
)
def test_unstorable_json_bodies_are_located(body: bytes, location: tuple[str | int, ...]) -> None:
    assert json_body_location(body) == location


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    document: object = "\x00"
    for _ in range(100_000):
        document = [document]
    assert unstorable_location(document) == (0,) * 100_000


def test_query_and_form_and_path() -> None:
    assert query_location(b"page=1&tool=github") is None
    assert query_location(b"tool=%2500") is None  # the text "%00"
    assert query_location(b"page=1&tool=git%00hub") == ("query", "tool")
    assert query_location(b"a%00=1") == ("query", "a\x00")
    assert form_body_location(b"api_key=plat_%00&csrf_token=x") == ("body", "api_key")
    assert path_location("/api/workspaces/1") is None
    assert path_location("/api/workspaces/\x00") == ("path",)


def test_locations_are_described_without_the_unstorable_text() -> None:
    assert describe(("body", "arguments", "repo", 0)) == "body.arguments.repo.0"
    assert describe(("body", "\ud800", "a\x00b")) == "body.\\ud800.a\\x00b"

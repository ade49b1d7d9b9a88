"""Text that no column or log can take — NUL bytes, unpaired UTF-16 surrogates — found once, at the edge.

PostgreSQL refuses NUL in text, and no UTF-8 encoder (asyncpg's, sqlite3's, orjson's) takes a lone surrogate,
so such a value would fail only when it is finally written — often off the request's path (the audit), where
nobody can be told. Python strings can hold both: JSON escapes (`\\u0000`, `\\ud800`) and percent-encoding
(`%00`) bring them in. `TextGuardMiddleware` (middleware.py) applies these checks to every request; routes
that must answer differently (signed webhooks, after their signature) call `unstorable_location` themselves.
"""

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

UNSTORABLE_TEXT_MESSAGE = "Text must not contain NUL bytes or unpaired UTF-16 surrogates"

Location = tuple[str | int, ...]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The bytes that would encode a surrogate (not valid UTF-8, yet the standard library's JSON parser, which
# FastAPI uses, decodes them into one).
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
# Otherwise a JSON body can only bring such text in as these escapes. Any surrogate escape matches, paired or
# not: only a body that has one is parsed, to tell a pair (an emoji) from a lone half.
_SUSPECT_JSON_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def unstorable_location(value: Any) -> Location | None:
    """Where the first key or string of a JSON-like value holds unstorable text; None when there is none.

    Iterative, so a deeply nested document cannot exhaust the stack; each item keeps a link to its parent, and
    the location is spelled out only for the one found.
    """
    pending: list[tuple[_Trail, Any]] = [(None, value)]
    while pending:
        trail, item = pending.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return _location(trail)
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and not is_storable(key):
                    return _location((trail, key))
                pending.append(((trail, key), child))
        elif isinstance(item, list):
            pending.extend(((trail, index), child) for index, child in enumerate(item))
    return None


# A location as a linked list, innermost step first: (parent trail, key or index), None at the top.
_Trail = tuple[Any, str | int] | None


def _location(trail: _Trail) -> Location:
    steps: list[str | int] = []
    while trail is not None:
        trail, step = trail
        steps.append(step)
    return tuple(reversed(steps))


def path_location(path: str) -> Location | None:
    return ("path",) if not is_storable(path) else None


def query_location(query_string: bytes) -> Location | None:
    # Percent-decoding replaces invalid UTF-8, so a query can bring in NUL but never a surrogate.
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if not is_storable(name) or not is_storable(value):
            return ("query", name)
    return None


def json_body_location(body: bytes) -> Location | None:
    if b"\x00" in body or _RAW_SURROGATE.search(body) is not None:
        return ("body",)
    if _SUSPECT_JSON_ESCAPE.search(body) is None:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        # Not JSON that anything downstream could read either; refused here rather than risk a laxer parser.
        return ("body",)
    found = unstorable_location(document)
    return None if found is None else ("body", *found)


def form_body_location(body: bytes) -> Location | None:
    found = query_location(body)
    return None if found is None else ("body", *found[1:])


def raw_body_location(body: bytes) -> Location | None:
    # No route takes binary uploads: a NUL byte in any other body is text that cannot be stored.
    return ("body",) if b"\x00" in body else None


def describe(location: Sequence[str | int]) -> str:
    """The location as FastAPI writes one (`body.arguments.repo`), with unstorable text escaped."""
    return ".".join(_printable(part) for part in location)


def _printable(part: str | int) -> str:
    text = str(part)
    return text if is_storable(text) else text.encode("unicode_escape").decode("ascii")

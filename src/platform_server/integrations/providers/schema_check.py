"""A tool's input schema compiled once into a plain Python check of the arguments, for the common case.

Every tool call validates its arguments, and jsonschema's `is_valid` walks the schema through its generic
machinery each time (tens of microseconds for a handful of arguments). The check built here answers the same
question for the keywords tool schemas use, as closures over the schema's values.

It is one-sided by design: True means jsonschema (Draft 2020-12, no format checker, as `ToolSpec` builds it)
accepts the arguments; False means "not shown valid" — the caller then asks jsonschema, which has the last word
and writes the error messages. A keyword it does not know, or a form it does not mirror exactly (a `oneOf` other
than "exactly one of these arguments", a `uniqueItems` over values other than strings), makes its part of the
check answer False, never True.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never make an instance invalid (annotations; `format` is not asserted without a format checker).
_ANNOTATIONS = frozenset(
    {"description", "default", "title", "examples", "$comment", "deprecated", "readOnly", "writeOnly", "format"}
)
# Exact Python types only: a subclass (or a bool where a number is expected) is left to jsonschema.
_TYPES: dict[str, Check] = {
    "string": lambda value: type(value) is str,
    "integer": lambda value: type(value) is int or (type(value) is float and value.is_integer()),
    "number": lambda value: type(value) in (int, float),
    "boolean": lambda value: type(value) is bool,
    "null": lambda value: value is None,
    "array": lambda value: type(value) is list,
    "object": lambda value: type(value) is dict,
}


def _never(_value: Any) -> bool:
    return False


def _always(_value: Any) -> bool:
    return True


def compile_check(schema: Any) -> Check:
    """The schema as a check that answers True only for instances jsonschema accepts."""
    if schema is True:
        return _always
    if not isinstance(schema, Mapping):
        return _never
    checks: list[Check] = []
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS or keyword in _OBJECT_KEYWORDS:
            continue
        keyword_check = _keyword_check(keyword, expected)
        if keyword_check is None:
            return _never
        checks.append(keyword_check)
    if any(keyword in schema for keyword in _OBJECT_KEYWORDS):
        object_check = _object_check(schema)
        if object_check is None:
            return _never
        checks.append(object_check)
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties"})


def _keyword_check(keyword: str, expected: Any) -> Check | None:
    """One keyword's check; None for a keyword not mirrored here."""
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else expected
        if not isinstance(kinds, list) or any(kind not in _TYPES for kind in kinds):
            return None
        type_checks = [_TYPES[kind] for kind in kinds]
        return type_checks[0] if len(type_checks) == 1 else lambda value: any(check(value) for check in type_checks)
    if keyword == "enum":
        if not isinstance(expected, list):
            return None
        # Strings compare as jsonschema compares them; any other member is left to jsonschema.
        strings = frozenset(member for member in expected if isinstance(member, str))
        return lambda value: type(value) is str and value in strings
    if keyword in _NUMBER_BOUNDS and type(expected) in (int, float):
        bound, compare = expected, _NUMBER_BOUNDS[keyword]
        return lambda value: type(value) not in (int, float) or compare(value, bound)
    if keyword in _LENGTH_BOUNDS and type(expected) is int:
        length, compare = expected, _LENGTH_BOUNDS[keyword]
        return lambda value: type(value) is not str or compare(len(value), length)
    if keyword == "pattern" and isinstance(expected, str):
        search = re.compile(expected).search
        return lambda value: type(value) is not str or search(value) is not None
    if keyword in _ITEM_BOUNDS and type(expected) is int:
        count, compare = expected, _ITEM_BOUNDS[keyword]
        return lambda value: type(value) is not list or compare(len(value), count)
    if keyword == "items":
        item_check = compile_check(expected)
        return lambda value: type(value) is not list or all(item_check(item) for item in value)
    if keyword == "uniqueItems":
        if expected is False:
            return _always
        return _unique_strings if expected is True else None
    if keyword == "anyOf" and isinstance(expected, list) and expected:
        branches = [compile_check(branch) for branch in expected]
        return lambda value: any(branch(value) for branch in branches)
    if keyword == "oneOf":
        return _one_of_required(expected)
    return None


def _one_of_required(branches: Any) -> Check | None:
    """`oneOf` only in the form whose branches are decided exactly: each one nothing but a `required` list (one
    of several arguments, and only one, must be given)."""
    if not isinstance(branches, list) or not all(
        isinstance(branch, Mapping) and branch.keys() == {"required"} and isinstance(branch["required"], list)
        for branch in branches
    ):
        return None
    alternatives = [tuple(branch["required"]) for branch in branches]

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return False
        return sum(all(name in value for name in names) for names in alternatives) == 1

    return check


def _unique_strings(value: Any) -> bool:
    if type(value) is not list:
        return True
    return all(type(item) is str for item in value) and len(set(value)) == len(value)


def _object_check(schema: Mapping[str, Any]) -> Check | None:
    """`properties`, `required` and `additionalProperties` together: each applies to objects only."""
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(required, list):
        return None
    property_checks = {name: compile_check(subschema) for name, subschema in properties.items()}
    required_names = tuple(required)
    if additional is True:
        extra_check: Check | None = None
    elif additional is False:
        extra_check = _never
    else:
        extra_check = compile_check(additional)

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return not isinstance(value, Mapping)
        for name in required_names:
            if name not in value:
                return False
        for name, item in value.items():
            property_check = property_checks.get(name)
            if property_check is not None:
                if not property_check(item):
                    return False
            elif extra_check is not None and not extra_check(item):
                return False
        return True

    return check


_NUMBER_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda value, bound: value >= bound,
    "maximum": lambda value, bound: value <= bound,
}
_LENGTH_BOUNDS: dict[str, Callable[[int, int], bool]] = {
    "minLength": lambda length, bound: length >= bound,
    "maxLength": lambda length, bound: length <= bound,
}
_ITEM_BOUNDS = {"minItems": _LENGTH_BOUNDS["minLength"], "maxItems": _LENGTH_BOUNDS["maxLength"]}

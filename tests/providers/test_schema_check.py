"""The compiled argument check against jsonschema, the authority: it must never accept what jsonschema refuses,
and for the catalog's schemas it must decide exactly as jsonschema does (else every call would pay for both)."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from platform_server.integrations.providers.schema_check import compile_check
from platform_server.sandbox.store import SandboxStore
from tests.providers.test_tools import ALL_TOOLS
from tests.providers.test_urls import STEERING_VALUES, valid_arguments

CHECK_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 1_002),
    st.sampled_from([0.5, 1.0, 3.0, 100.0, -1.0, 2.0**60]),
    st.text(max_size=12),
    st.sampled_from(STEERING_VALUES),
)


def schema_values(schema: dict[str, Any]) -> list[Any]:
    """Values on each side of what one argument's schema allows."""
    values: list[Any] = list(schema.get("enum", []))
    for bound in ("minimum", "maximum"):
        if bound in schema:
            values += [schema[bound] - 1, schema[bound], schema[bound] + 1, float(schema[bound])]
    for bound in ("minLength", "maxLength"):
        if bound in schema:
            values += ["x" * max(schema[bound] - 1, 0), "x" * schema[bound], "x" * (schema[bound] + 1)]
    if "default" in schema:
        values.append(schema["default"])
    return values


def arguments_strategy(name: str, valid: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = ALL_TOOLS[name].input_schema["properties"]
    per_argument = {}
    for argument, schema in properties.items():
        known = [call[argument] for call in valid if argument in call] + schema_values(schema)
        scalar = st.one_of(SCALARS, st.sampled_from(known)) if known else SCALARS
        per_argument[argument] = st.one_of(scalar, st.lists(scalar, max_size=3))
    per_argument["unexpected"] = SCALARS
    mutated = st.fixed_dictionaries({}, optional=per_argument)
    # Valid calls with some of their arguments changed, so that valid instances are drawn often, and with one
    # changed, so that each bound is tried where nothing else refuses the call.
    based = st.builds(lambda base, changes: {**base, **changes}, st.sampled_from(valid), mutated)
    one_changed = st.tuples(st.sampled_from(valid), st.sampled_from(list(per_argument))).flatmap(
        lambda drawn: per_argument[drawn[1]].map(lambda value: {**drawn[0], drawn[1]: value})
    )
    return st.one_of(mutated, based, one_changed)


@pytest.mark.parametrize("name", list(ALL_TOOLS))
def test_the_compiled_check_accepts_every_valid_call(store: SandboxStore, name: str) -> None:
    check = compile_check(ALL_TOOLS[name].input_schema)
    for arguments in valid_arguments(store)[name]:
        assert check(arguments), arguments


@pytest.mark.parametrize("name", list(ALL_TOOLS))
def test_the_compiled_check_decides_as_jsonschema_does(store: SandboxStore, name: str) -> None:
    schema = ALL_TOOLS[name].input_schema
    check, validator = compile_check(schema), Draft202012Validator(dict(schema))

    @CHECK_SETTINGS
    @given(arguments_strategy(name, valid_arguments(store)[name]))
    def decides_alike(arguments: dict[str, Any]) -> None:
        assert check(arguments) == validator.is_valid(arguments), arguments

    decides_alike()


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "not": {"const": "x"}},
        {"type": "object", "patternProperties": {"^a": {"type": "integer"}}},
        {"oneOf": [{"type": "string"}, {"maxLength": 3}]},
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        {"type": "integer", "minimum": 1},
    ],
)
@given(st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.sampled_from("ab"), SCALARS)))
@settings(max_examples=100, deadline=None, database=None)
def test_what_it_does_not_mirror_is_never_accepted_wrongly(schema: dict[str, Any], value: Any) -> None:
    if compile_check(schema)(value):
        assert Draft202012Validator(schema).is_valid(value), value

"""Schema base classes: camelCase on the wire, ISO 8601 UTC times with Z, string IDs."""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel


def _format_utc(value: datetime) -> str:
    # isoformat is a third cheaper than strftime, and a list of 20 items formats 40 of these.
    return value.astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"


UtcDatetime = Annotated[
    datetime,
    PlainSerializer(_format_utc, return_type=str, when_used="json"),
    Field(examples=["2025-12-03T10:00:00Z"]),
]


def _require_digits(value: str) -> str:
    if not (value.isascii() and value.isdigit()):
        raise ValueError("must be an ID made of decimal digits")
    return value


ObjectId = Annotated[
    str,
    Field(min_length=1, max_length=20, examples=["7390123456789012345"]),
    AfterValidator(_require_digits),
]


# A tagged union's variant shows up in pydantic's error locations as if it were a field; it is not one on the
# wire, so the validation error handler leaves parts with this prefix out of the field paths it reports.
VARIANT_TAG_PREFIX = "variant:"


def variant(name: str) -> Tag:
    """The tag of one variant of a request body that accepts several forms (a callable `Discriminator`
    returns `VARIANT_TAG_PREFIX + name`)."""
    return Tag(VARIANT_TAG_PREFIX + name)


class Schema(BaseModel):
    """Response models: read from ORM objects, written in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    return False


class InputSchema(BaseModel):
    """Request bodies: camelCase, and unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text; refusing it here keeps both backends accepting the same input.
        if _contains_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class PatchSchema(InputSchema):
    """Partial updates: omitted fields stay as they are; `null` is refused for fields that cannot be empty."""

    not_nullable: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _refuse_null(self) -> "PatchSchema":
        for name in self.not_nullable:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{to_camel(name)} cannot be null; omit it to leave it unchanged")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Message(BaseModel):
    message: str = Field(examples=["Deleted"])

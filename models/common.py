"""Building blocks shared by every dossier kind: people, recipients, rejections,
notifications due and tracked deadlines."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import date
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import Strict as PydanticStrict

from models.notifications import Kind, check_recipient
from models.notifications import Recipient as Recipient  # its home is the catalogue

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


# ISO 3166-1 keeps these for private use: no country has them (Kosovo's XK excepted, which
# the European Union and most consulates use).
_USER_ASSIGNED = re.compile(r"^(AA|Q[M-Z]|X[A-JL-Z]|ZZ)$")


def _country_code(value: str) -> str:
    if not _COUNTRY.match(value):
        raise ValueError("must be an ISO 3166-1 alpha-2 code such as 'MA'")
    if _USER_ASSIGNED.match(value):
        raise ValueError(f"{value!r} is a code ISO 3166-1 leaves to private use, not a country")
    return value


def _language_code(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be an ISO 639 code such as 'ar'")
    return value


# Characters no upstream system has a reason to send: controls (but tab and newline),
# format characters (zero-width, bidirectional overrides), which would also slip past the
# fingerprint that refuses duplicates, and the line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ALLOWED_CONTROLS = frozenset("\t\n")
# Letters that draw nothing (Hangul fillers, the Braille blank): a name of these alone
# reads as no name at all.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _normalised(value: object) -> object:
    """NFC before any length is counted: the same text in other code points is as long."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _plain_text(value: str) -> str:
    """Text with no control or format character, and something to read."""
    for position, char in enumerate(value):
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValueError(
                f"contains the control or format character U+{ord(char):04X} at {position}"
            )
    if all(char.isspace() or char in _BLANK_LETTERS for char in value):
        raise ValueError("has no visible character")
    return value


CountryCode = Annotated[str, AfterValidator(_country_code)]
LanguageCode = Annotated[str, AfterValidator(_language_code)]
Text = Annotated[
    str,
    BeforeValidator(_normalised),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_plain_text),
]
# Strict: `true` is not a count and `"50"` is not a score (pydantic would coerce both).
Count = Annotated[int, PydanticStrict()]
Hours = Annotated[float, PydanticStrict()]
Flag = Annotated[bool, PydanticStrict()]
MAX_LANGUAGES = 10


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


Languages = Annotated[
    list[LanguageCode],
    Field(min_length=1, max_length=MAX_LANGUAGES),
    AfterValidator(_distinct),
]
# A person born before this is an input error, not an applicant.
EARLIEST_BIRTH = date(1900, 1, 1)


def _plausible_birth(value: date) -> date:
    if value < EARLIEST_BIRTH:
        raise ValueError(f"must not precede {EARLIEST_BIRTH}")
    return value


BirthDate = Annotated[date, AfterValidator(_plausible_birth)]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Strict(BaseModel):
    """An input model: unknown fields are errors, never silently ignored, and a date is an
    ISO date (`YYYY-MM-DD`), never a number read as seconds since 1970."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _iso_dates_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or isinstance(value, date) or value is None:
            return value
        if _is_date(cls.model_fields[info.field_name].annotation) and not (
            isinstance(value, str) and _ISO_DATE.match(value)
        ):
            raise ValueError("must be an ISO date (YYYY-MM-DD)")
        return value


def _is_date(annotation: Any) -> bool:
    """A date field, optional or not (a datetime is not a date here)."""
    if annotation is date:
        return True
    if get_origin(annotation) not in (Union, UnionType):
        return False
    return any(_is_date(arg) for arg in get_args(annotation) if arg is not type(None))


class Record(BaseModel):
    """A stored model: tolerant of fields added by later versions (replay, continue-as-new)."""

    model_config = ConfigDict(extra="ignore")


def _one_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be one line: give each line of an address apart (lines)")
    return value


Line = Annotated[Text, StringConstraints(max_length=200), AfterValidator(_one_line)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,23}[0-9]$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address such as 'name@example.org'")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("must be a telephone number in figures, such as '+212 5 37 00 00 00'")
    return value


class PostalAddress(Strict):
    """Where a letter is posted: the lines above the postcode and city, then the country."""

    lines: list[Line] = Field(min_length=1, max_length=4)
    postcode: Annotated[Line, StringConstraints(max_length=20)] | None = None
    city: Line
    country: CountryCode


class Contact(Strict):
    """How the person's letters reach them (docs/contract.md, "Letters that can be posted"):
    by e-mail when there is one, by post otherwise, handed over by the responsible body
    when there is neither."""

    postal_address: PostalAddress | None = None
    email: Annotated[Line, AfterValidator(_email)] | None = None
    phone: Annotated[Line, AfterValidator(_phone)] | None = None


class Person(Strict):
    full_name: Text  # the travel document's, in Latin letters
    birth_date: BirthDate
    nationality: CountryCode
    languages: Languages
    # The name in its own script, printed beside `full_name` when a shipped font draws it.
    full_name_native: Line | None = None
    contact: Contact | None = None


class NotificationDue(Record):
    """One notification row of the register: one kind, one recipient, and what it is
    about when one step tells one recipient of several people (G4: one report per parent).
    Its kind and recipient are those of the catalogue (`models.notifications`)."""

    kind: Kind
    recipient: Recipient
    rule: str
    language: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    origin: str = ""  # the event (its number) or the delay (`name@due`) that caused it
    about: str | None = None

    @property
    def key(self) -> str:
        """Its key in the register, the same at every re-fold of the dossier."""
        key = f"{self.origin}.{self.kind.value}.{self.recipient.value}"
        return f"{key}.{self.about}" if self.about is not None else key

    @model_validator(mode="after")
    def _due_to_whom_the_catalogue_says(self) -> NotificationDue:
        check_recipient(self.kind, self.recipient)  # a fault of the rules otherwise
        return self


class Rejection(Record):
    """An input refused, kept in the state and the register (contract: rejected_inputs)."""

    event: str
    received_at: str
    reason: str
    rule: str | None = None
    field: str | None = None
    seq: int | None = None


class HeldInput(Record):
    """An input whose ground has not arrived yet, held until it does (contract:
    held_inputs): the reason it waits, and the fact as it will take its place in event
    time once admitted (models.history)."""

    event: str
    received_at: str
    reason: str
    rule: str | None = None
    field: str | None = None
    seq: int  # its number on arrival, kept when it takes its place
    payload: dict[str, Any] = Field(default_factory=dict)
    dated: date
    received_on: date


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    MET = "met"
    MISSED = "missed"  # passed with the obligation still outstanding
    MET_LATE = "met_late"
    REACHED = "reached"  # passed; nothing to observe (B2) or the consulate must now rule (B4)


class TrackedDeadline(Record):
    """A statutory delay: its last day allowed and what became of it."""

    due: date
    rule: str
    status: DeadlineStatus = DeadlineStatus.PENDING

    @property
    def open(self) -> bool:
        return self.status == DeadlineStatus.PENDING


def is_loopback(host: str) -> bool:
    """A host name or address of this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def age_on(birth_date: date, day: date) -> int:
    """Age in completed years on `day`."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)

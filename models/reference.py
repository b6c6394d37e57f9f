"""Reference data the rules read: barèmes (D1, E1) and the country registry (A2, A3),
each versioned by effective date, and the languages letters are translated into (A4).

They are data, loaded once per worker, handed to a dossier at its start by a local
activity and kept with it, so that a dossier is judged by the reference data of the day it
began (its `reference_version`) and replays deterministically.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from importlib import resources
from typing import Any, TypeVar
from zoneinfo import ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.calendar import FRANCE, CalendarPolicy, holiday_calendar_known, zone_info
from models.common import CountryCode, LanguageCode
from models.issuers import HEADQUARTERS, Issuer

VERSION_DIGITS = 12
FRANCE_TIME_ZONE = "Europe/Paris"  # B9: part II, and the default


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageBareme(Frozen):
    """Threshold of the oral and written test of R.311-23 (D1)."""

    effective_from: date
    oral_max: int = 70
    written_max: int = 30
    oral_min: int
    total_min: int
    source: str = ""


class ValuesBareme(Frozen):
    """Threshold of the values evaluation (E1): `min_correct` out of `out_of` questions."""

    effective_from: date
    min_correct: int
    out_of: int
    source: str = ""


_Bareme = TypeVar("_Bareme", LanguageBareme, ValuesBareme)


class BodyKind(StrEnum):
    OFII_REPRESENTATION = "ofii_representation"
    DELEGATE = "delegate"


class ConsularDistrict(Frozen):
    """A consular district with its own convention (A2, A3): what it overrides of its
    country's entry for the dossiers of that consulate."""

    scheme_starts_on: date | None = None
    body: BodyKind | None = None
    body_name: str | None = None


class CountryEntry(Frozen):
    """Where and since when the scheme runs in a country, and who runs it (A2, A3); the
    default for the consulates that have no convention of their own (`consulates`)."""

    name: str
    body: BodyKind
    body_name: str
    scheme_starts_on: date | None  # None: no representation nor convention yet
    # B9: where the consulate keeps its delays; a country of several zones names each
    # consulate's own (Canada).
    time_zone: str = FRANCE_TIME_ZONE
    consulate_zones: dict[str, str] = Field(default_factory=dict)
    consulates: dict[str, ConsularDistrict] = Field(default_factory=dict)

    def for_consulate(self, consulate: str) -> CountryEntry:
        """A2, A3: the entry as it holds in `consulate`'s district."""
        district = self.consulates.get(consulate)
        if district is None:
            return self
        overrides = district.model_dump(exclude_none=True)
        return self.model_copy(update={**overrides, "consulates": {}})

    # B9: whose public holidays the consulate keeps (the working-day policy): the country's
    # own by default (None: its code), a province's where they differ (Canada: "CA-QC").
    holiday_calendar: str | None = None
    consulate_holiday_calendars: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _zones_exist(self) -> CountryEntry:
        for zone in [self.time_zone, *self.consulate_zones.values()]:
            try:
                zone_info(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r} (an IANA name)") from None
        return self


class SessionPlan(Frozen):
    """How an OFII platform holds one kind of collective session."""

    capacity: int = Field(gt=0)
    slots: list[str] = Field(min_length=1)  # e.g. ["morning", "afternoon"] for half days
    weekdays: list[int] = Field(min_length=1)  # 0 = Monday
    days_ahead: int = Field(default=7, ge=1)  # the earliest session day planned after a run
    horizon_days: int = Field(default=28, ge=1)  # how far ahead sessions are planned


class Platform(Frozen):
    """An OFII platform in France that convenes CAI signatories (H1, G2)."""

    skills_assessment: SessionPlan  # H3: individual half days
    parents_training: SessionPlan  # G2: one day


class FamilyFollowUp(Frozen):
    """G2, G4: the circular sets no term for the CAI for the family; OFII follows it up for
    `months`, then the dossier stays open `referral_window_months` for the prefect's
    referral to the conseil général when a parent did not attend."""

    months: int = Field(default=12, ge=1, le=36)
    referral_window_months: int = Field(default=3, ge=0, le=24)


class ReferenceData(Frozen):
    language_baremes: list[LanguageBareme] = Field(min_length=1)
    values_baremes: list[ValuesBareme] = Field(min_length=1)
    countries: dict[CountryCode, CountryEntry]
    letter_languages: list[LanguageCode] = Field(min_length=1)
    calendar: CalendarPolicy = CalendarPolicy()
    family_follow_up: FamilyFollowUp = FamilyFollowUp()
    platforms: dict[str, Platform] = Field(default_factory=dict)
    # A1, A2: a dossier judged not subject stays open this many days for corrections of
    # its opening facts before it closes (docs/interpretations.md).
    not_subject_correction_days: int = Field(default=30, ge=0, le=365)
    # B2: a visa application on file means the prefect has ruled. True in the shipped data;
    # absent (False) only from the data recorded by dossiers opened before this reading, so
    # that they replay as they ran.
    visa_application_meets_b2: bool = False
    # B9: a prefecture whose public holidays are not metropolitan France's (an overseas
    # department's, Alsace-Moselle's), by the prefecture's name as dossiers give it.
    prefecture_holiday_calendars: dict[str, str] = Field(default_factory=dict)
    # The block each body prints on its letters (models/issuers.py), by the name dossiers
    # give it; `OFII` (headquarters) for a body that has none of its own.
    issuers: dict[str, Issuer] = Field(default_factory=dict)
    # When a session of each slot of the platforms' plans begins ("HH:MM"), for the
    # convocations (G2, H1).
    session_times: dict[str, str] = Field(
        default_factory=lambda: {"morning": "09:00", "afternoon": "14:00", "day": "09:30"}
    )
    # The digest of the content: a dossier keeps the version it opened under, and an
    # operator reads which one in its state (empty on data loaded before versions).
    version: str = ""

    @model_validator(mode="after")
    def _french_letters_exist(self) -> ReferenceData:
        if "fr" not in self.letter_languages:
            raise ValueError("letter_languages must include 'fr', the fallback of A4")
        return self

    def scheme_in(self, country: str, consulate: str) -> CountryEntry | None:
        """A2, A3: the start date and the responsible body for a consulate's dossiers."""
        entry = self.countries.get(country)
        return entry.for_consulate(consulate) if entry is not None else None

    @model_validator(mode="after")
    def _holiday_calendars_exist(self) -> ReferenceData:
        """B9: every key names a country (or subdivision) the holiday library knows."""
        keys = [*self.prefecture_holiday_calendars.values()]
        for code, entry in self.countries.items():
            keys += [entry.holiday_calendar or code, *entry.consulate_holiday_calendars.values()]
        unknown = sorted({key for key in keys if not holiday_calendar_known(key)})
        if unknown:
            raise ValueError(f"unknown holiday calendars {unknown} (e.g. 'MA', 'CA-QC', 'FR-974')")
        return self

    def issuer(self, name: str | None) -> Issuer | None:
        """The block of the body named `name`; headquarters' for a body without one."""
        found = self.issuers.get(name) if name is not None else None
        return found if found is not None else self.issuers.get(HEADQUARTERS)

    def time_zone_of(self, country: str, consulate: str) -> str:
        """B9: the zone of the consulate keeping a part-I dossier's delays."""
        entry = self.countries.get(country)
        if entry is None:
            return FRANCE_TIME_ZONE
        return entry.consulate_zones.get(consulate, entry.time_zone)

    def holiday_calendar_of(self, country: str, consulate: str) -> str:
        """B9: the public holidays of the consulate keeping a part-I dossier's delays."""
        entry = self.countries.get(country)
        if entry is None:
            return FRANCE
        default = entry.holiday_calendar or country
        return entry.consulate_holiday_calendars.get(consulate, default)

    def holiday_calendar_in_france(self, prefecture: str | None) -> str:
        """B9: the public holidays of the prefecture keeping a delay in France."""
        if prefecture is None:
            return FRANCE
        return self.prefecture_holiday_calendars.get(prefecture, FRANCE)

    def language_bareme_on(self, day: date) -> LanguageBareme:
        return _in_force(self.language_baremes, day)

    def values_bareme_on(self, day: date) -> ValuesBareme:
        return _in_force(self.values_baremes, day)


def _in_force(versions: list[_Bareme], day: date) -> _Bareme:
    """The version in force on `day`; the earliest one for a day before all of them."""
    ordered = sorted(versions, key=lambda version: version.effective_from)
    current = ordered[0]
    for version in ordered:
        if version.effective_from <= day:
            current = version
    return current


def default_reference_data() -> dict[str, Any]:
    """The reference data shipped with the project, as plain JSON."""
    text = resources.files("models").joinpath("reference_data.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def merge_reference_data(base: dict[str, Any], override: dict[str, Any]) -> ReferenceData:
    """An operator's override on top of the defaults: countries, platforms, the
    prefectures' holiday calendars and the issuers' blocks are merged entry by entry (so a
    delegated organisation and its letters' block are added by configuration), other keys
    are replaced."""
    merged = {**base, **{key: value for key, value in override.items() if key != "countries"}}
    for merged_by_entry in ("countries", "platforms", "prefecture_holiday_calendars", "issuers"):
        merged[merged_by_entry] = {
            **base.get(merged_by_entry, {}),
            **override.get(merged_by_entry, {}),
        }
    merged.pop("version", None)
    canonical = json.dumps(merged, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    version = hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_DIGITS]
    try:
        return ReferenceData.model_validate({**merged, "version": version})
    except ValidationError as error:
        raise ReferenceDataInvalid(error) from None


class ReferenceDataInvalid(ValueError):
    """The reference data does not load: each fault named by its path in the JSON."""

    def __init__(self, error: ValidationError) -> None:
        faults = [
            f"{'.'.join(str(part) for part in fault['loc']) or '(root)'}: "
            + ("unknown key" if fault["type"] == "extra_forbidden" else fault["msg"])
            for fault in error.errors()
        ]
        super().__init__("reference data invalid: " + "; ".join(faults))

"""Letters and attestations, composed from templates kept as data (docs/contract.md, "Notifications
are delivered"): the invitation (A4, A5), the attestations D2, D4, E2, E5 and G2, the
prescription (D3, E3) and the convocations (G2, H1).

A template is `models/templates/<kind>.json`: per language, the issuer, the title and the
paragraphs, each with `{placeholders}` filled from the notification's payload and from
`reference`, `rule` and `issued_on`. `{field:date}` writes a date as the language writes
it, `{field:term}` a code of the payload (`language`, `family_reunification`…) in words;
a paragraph `{"when": {...}, "text": ...}` is said only when the payload matches
(`true`: the field is there and neither null nor false; `false`: it is not; any other
value: equal). `models/templates/_common.json` holds what every document shares per
language: direction, dates, labels and terms.

A letter goes in the applicant's language when a translation exists, in French otherwise,
flagged (A4). Composing is pure: the same notification gives the same document, which the
shell renders (`activities/documents.py`) and keeps by its digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.issuers import HEADQUARTERS, NAME_FORMS, Issuer, name_form
from models.notifications import CATALOGUE, Kind
from models.reference import (
    CountryEntry,
    ReferenceData,
    default_reference_data,
    merge_reference_data,
)

# The notification kinds that are a document (docs/contract.md: letters and attestations), as the
# catalogue names them: A4, A5, D2, D3, D4, E2, E3, E5, G2, H1.
DOCUMENT_KINDS = frozenset(entry.document for entry in CATALOGUE.values() if entry.document)
# Kinds that are a letter to the applicant only: a correction to an authority stays data, a
# correction to the applicant is a letter in their language (docs/contract.md).
APPLICANT_LETTER_KINDS = frozenset({Kind.CORRECTION_NOTICE.value})
TEMPLATE_KINDS = DOCUMENT_KINDS | APPLICANT_LETTER_KINDS
APPLICANT = "applicant"
FRENCH = "fr"  # the language of every document without a translation (A4)
TEMPLATES = "models/templates"  # where errors say the files are, from the project's root
COMMON = "_common"
SPECS = frozenset({"", "date", "term", *NAME_FORMS})
CODE_LENGTH = 12  # base32 characters of the verification code: 60 bits
CODE_GROUP = 4


class TemplateError(ValueError):
    """A template that cannot serve: names its file, and its line when it has one."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line


# --- templates as data -----------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paragraph(_Strict):
    text: str
    when: dict[str, bool | str | int] = Field(default_factory=dict)


class LanguageTemplate(_Strict):
    issuer: str
    title: str
    paragraphs: list[str | Paragraph] = Field(min_length=1)

    def blocks(self) -> list[Paragraph]:
        return [p if isinstance(p, Paragraph) else Paragraph(text=p) for p in self.paragraphs]


class TemplateFile(_Strict):
    kind: str
    rules: list[str] = Field(min_length=1)
    # What the letter cites, as a lawyer reads it: the circular's sections and the CESEDA's
    # articles (the rule ids above are the project's, kept in the document's metadata).
    sections: list[str] = Field(min_length=1)
    articles: list[str] = Field(min_length=1)
    decision: bool = False  # a decision is notified: the letter says the means of recourse
    languages: dict[str, LanguageTemplate]
    comment: str = Field(default="", alias="_comment")


class Labels(_Strict):
    republic: str
    reference: str
    rule: str
    issued_on: str
    verification: str
    verification_note: str
    circular: str
    page: str  # with {page} and {pages}
    subject: str  # "Objet"
    references: str
    phone: str
    email: str
    hours: str


class Letter(_Strict):
    """The parts of a letter every kind shares, per language, filled like a template."""

    place_date: str  # {city}, {date}
    legal: str  # {sections}, {articles}
    salutation: str
    closing: str
    time: str  # a session's time: {hour}, {minute}
    data_protection: str
    recourse: str


class LanguageCommon(_Strict):
    direction: Literal["ltr", "rtl"]
    colon: str  # between a label and its value: " : " in French
    date: str  # fields: day, month (its name), month_number, year
    months: list[str]  # empty when the date is written in figures
    days: dict[str, str]  # a day written otherwise ("1" → "1er")
    labels: Labels
    terms: dict[str, str]
    letter: Letter
    elision: bool = False  # French: "que" + "Amina" is "qu'Amina"


class CommonFile(_Strict):
    languages: dict[str, LanguageCommon]
    comment: str = Field(default="", alias="_comment")


class Templates(BaseModel):
    """Every template, checked, with the text of its file (to name lines in errors)."""

    model_config = ConfigDict(frozen=True)

    kinds: dict[str, TemplateFile]
    common: CommonFile
    texts: dict[str, str]

    def languages(self, kind: str) -> frozenset[str]:
        return frozenset(self.kinds[kind].languages)


# --- what a composed document is ---------------------------------------------------------


class Composed(BaseModel):
    """A letter or attestation, every word decided: what the renderer lays out."""

    model_config = ConfigDict(frozen=True)

    kind: str
    language: str  # the language it is written in
    requested_language: str | None  # the applicant's letter language; None: an authority
    fallback: bool  # A4: not in a language the applicant declared; French instead
    direction: Literal["ltr", "rtl"]
    republic: str
    issuer: str
    title: str
    title_fr: str | None  # under a translated title, so any French authority knows it
    details: list[str]  # reference, rule, date of issue, each "label: value"
    paragraphs: list[str]
    reference: str
    rule: str
    issued_on: date
    verification_code: str
    verification: str  # "label: code"
    verification_note: str
    circular: str
    page_label: str  # with {page} and {pages}
    # The blocks that let a mail room post it and the applicant act on it (docs/contract.md,
    # "Letters that can be posted").
    issuer_block: list[str] = Field(default_factory=list)  # address, telephone, e-mail, hours
    place_date: str = ""
    addressee: list[str] = Field(default_factory=list)  # name(s), then the postal address
    subject: str = ""  # "Objet : …"
    legal: str = ""  # the circular's sections and the CESEDA's articles
    salutation: str = ""
    closing: str = ""
    signatory: str = ""
    notices: list[str] = Field(default_factory=list)  # data protection; recourse
    keywords: str = ""  # the rule ids and the kind, for the metadata

    def printed(self) -> list[str]:
        """Every text the letter prints, but its page numbers (the renderer's)."""
        return [
            self.republic,
            self.issuer,
            *self.issuer_block,
            self.place_date,
            *self.addressee,
            self.subject,
            self.title_fr or "",
            *self.details,
            self.legal,
            self.salutation,
            *self.paragraphs,
            self.closing,
            self.signatory,
            *self.notices,
            self.verification,
            self.verification_note,
            self.circular,
        ]


# --- loading and checking -----------------------------------------------------------------


def _line_of(text: str, needle: str, after: int = 0) -> int | None:
    found = text.find(needle, after)
    return text.count("\n", 0, found) + 1 if found >= 0 else None


def _key_line(text: str, path: Sequence[str | int]) -> int | None:
    """The line of the last named key of `path` in a JSON text (best effort)."""
    position = 0
    line = None
    for part in path:
        if isinstance(part, str):
            found = text.find(json.dumps(part, ensure_ascii=False), position)
            if found < 0:
                break
            position, line = found, text.count("\n", 0, found) + 1
    return line


def _parse(file: str, text: str, model: type[BaseModel]) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TemplateError(file, f"not JSON: {error.msg}", error.lineno) from error
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        keys = [part for part in first["loc"] if isinstance(part, str)]
        # A missing key has no line: its parent's is where it should be.
        line = _key_line(text, keys[:-1] if first["type"] == "missing" else keys)
        raise TemplateError(file, f"{where}: {first['msg']}", line) from error


def _fields(file: str, text: str, source: str) -> set[str]:
    """The placeholders of one text, checked: balanced braces, a known format spec."""
    line = _line_of(text, json.dumps(source, ensure_ascii=False)[1:-1][:60])
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as error:
        raise TemplateError(file, f"{error} in {source[:60]!r}", line) from error
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or name.isdigit() or conversion:
            raise TemplateError(file, f"placeholder {{{name}}} must name a field", line)
        if spec not in SPECS:
            raise TemplateError(file, f"{{{name}:{spec}}}: the format is one of :date, :term", line)
        names.add(name)
    return names


def _template_fields(file: str, text: str, template: LanguageTemplate) -> set[str]:
    """The fields a template reads, by their root: `{body[name]}` reads `body`, so that a
    French `{platform:to}` and an English `{platform}` say the same."""
    names = _fields(file, text, template.issuer) | _fields(file, text, template.title)
    for block in template.blocks():
        names |= _fields(file, text, block.text)
    return {re.split(r"[.\[]", name, maxsplit=1)[0] for name in names}


def load_templates(texts: Mapping[str, str]) -> Templates:
    """Templates from the text of each file (`<kind>.json` and `_common.json`), checked: each
    parses, French is there, every translation says what French says (same placeholders,
    same paragraphs under the same conditions) in a language `_common.json` knows, and no
    kind that needs a document lacks its template."""
    common_file = f"{TEMPLATES}/{COMMON}.json"
    if f"{COMMON}.json" not in texts:
        raise TemplateError(common_file, "missing")
    common: CommonFile = _parse(common_file, texts[f"{COMMON}.json"], CommonFile)
    common_text = texts[f"{COMMON}.json"]
    if FRENCH not in common.languages:
        raise TemplateError(common_file, "no French block", 1)
    for language, shared in common.languages.items():
        line = _key_line(common_text, ["languages", language])
        if shared.months and len(shared.months) != 12:
            raise TemplateError(common_file, f"{language}: twelve months, or none", line)
        try:
            _format_date(date(2009, 1, 1), shared)
        except (KeyError, ValueError, IndexError) as error:
            raise TemplateError(
                common_file, f"{language}: date {shared.date!r}: {error}", line
            ) from error
    kinds: dict[str, TemplateFile] = {}
    for name, text in sorted(texts.items()):
        if name == f"{COMMON}.json" or not name.endswith(".json"):
            continue
        file = f"{TEMPLATES}/{name}"
        template: TemplateFile = _parse(file, text, TemplateFile)
        if template.kind != name.removesuffix(".json"):
            raise TemplateError(
                file, f"kind {template.kind!r} in a file named {name}", _line_of(text, '"kind"')
            )
        if template.kind not in TEMPLATE_KINDS:
            raise TemplateError(
                file,
                f"{template.kind} is not a document in models/notifications.py",
                _line_of(text, '"kind"'),
            )
        if FRENCH not in template.languages:
            raise TemplateError(file, "no French block: French is every letter's fallback (A4)")
        french = template.languages[FRENCH]
        french_fields = _template_fields(file, text, french)
        french_whens = [block.when for block in french.blocks()]
        for language, block in template.languages.items():
            line = _key_line(text, ["languages", language])
            if language not in common.languages:
                raise TemplateError(file, f"{language}: not a language of {COMMON}.json", line)
            fields = _template_fields(file, text, block)
            if fields != french_fields:
                raise TemplateError(
                    file,
                    f"{language} says {sorted(fields - french_fields) or 'nothing more'} and "
                    f"lacks {sorted(french_fields - fields) or 'nothing'} of the French",
                    line,
                )
            if [b.when for b in block.blocks()] != french_whens:
                raise TemplateError(
                    file, f"{language}: paragraphs and conditions differ from the French", line
                )
        kinds[template.kind] = template
    missing = sorted(DOCUMENT_KINDS - set(kinds))
    if missing:
        raise TemplateError(
            f"{TEMPLATES}/{missing[0]}.json", f"missing: {missing[0]} is a document"
        )
    return Templates(kinds=kinds, common=common, texts=dict(texts))


def _shipped_texts() -> dict[str, str]:
    folder = resources.files("models").joinpath("templates")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


@cache
def shipped_templates() -> Templates:
    """The templates shipped in `models/templates/`, read once (like the reference data)."""
    return load_templates(_shipped_texts())


def check_templates() -> None:
    """Raise TemplateError, naming the file and line, when a shipped template does not parse
    or a kind that needs a document has none: the worker calls it at start."""
    shipped_templates.cache_clear()
    shipped_templates()


def template_languages(kind: str) -> frozenset[str]:
    """The languages a document of `kind` is written in."""
    return shipped_templates().languages(kind)


# --- composing ------------------------------------------------------------------------------


class _Missing(KeyError):
    pass


def _format_date(day: date, shared: LanguageCommon) -> str:
    name = shared.months[day.month - 1] if shared.months else ""
    written = shared.days.get(str(day.day))
    return shared.date.format(
        day=written if written is not None else day.day,
        month=name,
        month_number=day.month,
        year=day.year,
    )


# The French words that lose their "e" (or "a") before a vowel: "qu'", "d'", "l'"…
_ELIDED = re.compile(r"(?<![\w'’])(lorsqu|puisqu|jusqu|qu|[cdjlmnst])[ea] $", re.IGNORECASE)


def _starts_with_vowel(text: str) -> bool:
    """Whether `text` starts with a vowel, accents aside ("É", "İ", "Ö" count)."""
    first = unicodedata.normalize("NFD", text[:1])[:1].lower()
    return first in ("a", "e", "i", "o", "u", "y", "ı")


class _Filler(string.Formatter):
    """str.format over the payload: a missing or null value is a fault of the template (or
    of the caller), never an empty hole in a letter."""

    def __init__(
        self,
        shared: LanguageCommon,
        common_file: str,
        language: str,
        issuers: Mapping[str, Issuer] | None = None,
    ) -> None:
        self.shared = shared
        self.common_file = common_file
        self.language = language
        self.issuers = issuers or {}

    def fill(self, source: str, fields: Mapping[str, Any]) -> str:
        """`source` with its placeholders filled, eliding French before a vowel: "atteste
        que" and "Ayşe" make "atteste qu'Ayşe"."""
        written: list[str] = []
        for literal, name, spec, _ in self.parse(source):
            written.append(literal)
            if name is None:
                continue
            value = self.format_field(self.get_field(name, (), fields)[0], spec or "")
            if self.shared.elision and _starts_with_vowel(value):
                written[-1] = _ELIDED.sub(r"\1'", written[-1])
            written.append(value)
        return "".join(written)

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        try:
            value, used = super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise _Missing(field_name) from error
        if value is None:
            raise _Missing(field_name)
        return value, used

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec in NAME_FORMS:
            # French articles before a body's name; other languages write the name alone.
            if self.language != FRENCH:
                return str(value)
            found = self.issuers.get(str(value))
            return name_form(str(value), format_spec, found.article if found else "")
        if format_spec == "date":
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
            return _format_date(day, self.shared)
        if format_spec == "term":
            term = self.shared.terms.get(str(value))
            if term is None:
                raise TemplateError(
                    self.common_file, f"{self.language}: no term for {value!r} (terms)"
                )
            return term
        return str(value)


def _applies(when: Mapping[str, bool | str | int], fields: Mapping[str, Any]) -> bool:
    for name, expected in when.items():
        value = fields.get(name)
        present = value is not None and value is not False
        if expected is True or expected is False:
            if present != expected:
                return False
        elif value != expected:
            return False
    return True


def compose(
    kind: str,
    payload: Mapping[str, Any],
    language: str | None,
    *,
    reference: str,
    rule: str,
    issued_on: date,
    verification_code: str,
    templates: Templates | None = None,
    reference_data: ReferenceData | None = None,
    person: Mapping[str, Any] | None = None,
    recipient: str = APPLICANT,
) -> Composed:
    """The document of a notification of `kind`, in `language` (the applicant's letter
    language; None for an authority) when a translation exists, in French otherwise with
    `fallback` set (A4), as it is when the payload says no declared language had a letter.

    The letter bears its issuer's block from `reference_data` (the shipped data when None),
    and is addressed to `person` (the dossier's applicant or signatory, with their contact)
    when it goes to the applicant, to the authority `recipient` names otherwise.

    Raises ValueError naming the template file when a placeholder has no value: a letter
    with a hole is never sent."""
    catalogue = templates if templates is not None else shipped_templates()
    file = f"{TEMPLATES}/{kind}.json"
    template = catalogue.kinds.get(kind)
    if template is None:
        raise TemplateError(file, f"no template: {kind} is not a document")
    written_in = language if language in template.languages else FRENCH
    fallback = (language is not None and written_in != language) or (
        payload.get("language_fallback") is True
    )
    block = template.languages[written_in]
    shared = catalogue.common.languages[written_in]
    data = reference_data if reference_data is not None else shipped_reference_data()
    issuer_name = issuer_of(kind, payload, data)
    if issuer_name not in data.issuers:
        issuer_name = HEADQUARTERS  # a body without a block of its own: headquarters' block
    issuer = data.issuer(issuer_name)
    fields = {
        **payload,
        **_issuer_fields(issuer_name, issuer, written_in),
        **_session_fields(payload, data, shared, issuer),
        **_superseded_fields(payload, catalogue, written_in),
        "reference": reference,
        "rule": rule,
        "issued_on": issued_on.isoformat(),
    }
    filler = _Filler(shared, f"{TEMPLATES}/{COMMON}.json", written_in, data.issuers)
    text = catalogue.texts.get(f"{kind}.json", "")

    def fill(source: str) -> str:
        try:
            return filler.fill(source, fields)
        except _Missing as missing:
            name = missing.args[0]
            line = _line_of(text, "{" + name, text.find(f'"{written_in}"'))
            raise TemplateError(
                file, f"{written_in}: no value for the placeholder {{{name}}}", line
            ) from None

    labels = shared.labels
    letter = shared.letter
    french_title = template.languages[FRENCH].title
    title = fill(block.title)
    # A correction cites what the letter it corrects cited.
    cited = catalogue.kinds.get(str(payload.get("superseded_kind")), template)
    notices = [fill(letter.data_protection)]
    if template.decision:
        notices.append(fill(letter.recourse))
    return Composed(
        kind=kind,
        language=written_in,
        requested_language=language,
        fallback=fallback,
        direction=shared.direction,
        republic=labels.republic,
        issuer=fill(block.issuer),
        title=title,
        title_fr=fill(french_title) if written_in != FRENCH else None,
        details=[
            f"{labels.reference}{shared.colon}{reference}",
            f"{labels.issued_on}{shared.colon}{_format_date(issued_on, shared)}",
        ],
        paragraphs=[fill(b.text) for b in block.blocks() if _applies(b.when, fields)],
        reference=reference,
        rule=rule,
        issued_on=issued_on,
        verification_code=verification_code,
        verification=f"{labels.verification}{shared.colon}{verification_code}",
        verification_note=labels.verification_note,
        circular=labels.circular,
        page_label=labels.page,
        issuer_block=_issuer_block(issuer, labels, shared.colon, written_in),
        place_date=fill(letter.place_date.replace("{date}", "{issued_on:date}")),
        addressee=_addressee(person, recipient, payload, shared, data.countries),
        subject=f"{labels.subject}{shared.colon}{title}",
        legal=f"{labels.references}{shared.colon}"
        + letter.legal.format(
            sections=", ".join(cited.sections), articles=", ".join(cited.articles)
        ),
        salutation=letter.salutation,
        closing=letter.closing,
        signatory=issuer.said_in("signatory", written_in) if issuer is not None else "",
        notices=notices,
        keywords=", ".join([kind, *template.rules, rule, "NOR IMIG0900055C"]),
    )


# --- the letter's blocks ------------------------------------------------------------------


@cache
def shipped_reference_data() -> ReferenceData:
    """The reference data shipped in `models/`, for a letter composed without the worker's."""
    return merge_reference_data(default_reference_data(), {})


def issuer_of(kind: str, payload: Mapping[str, Any], data: ReferenceData) -> str | None:
    """The body whose block a letter bears: the provider that prescribes a training (D3),
    the platform that convenes (G2, H1), the body that invites (A4), or the OFII
    representation or delegated organisation of the consulate's district (A3)."""
    told = payload.get("now") or payload.get("previously")
    if isinstance(told, Mapping):  # a correction notice: the body of the letter it corrects
        return issuer_of(str(payload.get("superseded_kind")), told, data)
    provider = payload.get("provider")
    if kind == Kind.TRAINING_PRESCRIPTION.value and provider in data.issuers:
        return str(provider)
    body = payload.get("body")
    if isinstance(body, Mapping) and body.get("name"):
        return str(body["name"])
    if payload.get("platform"):
        return str(payload["platform"])
    country, consulate = payload.get("country_of_residence"), payload.get("consulate")
    scheme = data.scheme_in(str(country), str(consulate)) if country and consulate else None
    return scheme.body_name if scheme is not None else None


def _issuer_fields(name: str, issuer: Issuer | None, language: str) -> dict[str, Any]:
    if issuer is None:
        return {}
    return {
        "issuer_name": name,
        "issuer_address": issuer.place,
        "issuer_city": issuer.city,
        "issuer_phone": issuer.phone,
        "issuer_email": issuer.email,
        "issuer_hours": issuer.said_in("hours", language),
    }


def _issuer_block(issuer: Issuer | None, labels: Labels, colon: str, language: str) -> list[str]:
    if issuer is None:
        return []
    return [
        *issuer.address,
        f"{labels.phone}{colon}{issuer.phone}",
        f"{labels.email}{colon}{issuer.email}",
        f"{labels.hours}{colon}{issuer.said_in('hours', language)}",
    ]


def _session_fields(
    payload: Mapping[str, Any], data: ReferenceData, shared: LanguageCommon, place: Issuer | None
) -> dict[str, Any]:
    """A convocation's place and time (G2, H1), never its internal session id: the time of
    its slot (the id's last part, as the session planner writes it), where it is known."""
    session_id = payload.get("session_id")
    if not session_id:
        return {}
    fields: dict[str, Any] = {"session_place": place.place if place is not None else None}
    starts = data.session_times.get(str(session_id).rsplit("-", 1)[-1])
    if starts is not None:
        hour, minute = starts.split(":", 1)
        fields["session_time"] = shared.letter.time.format(hour=int(hour), minute=minute)
    return fields


def _superseded_fields(
    payload: Mapping[str, Any], catalogue: Templates, language: str
) -> dict[str, Any]:
    """A correction notice names the letter it corrects by its title, as the applicant
    received it (never by the register's key)."""
    superseded = catalogue.kinds.get(str(payload.get("superseded_kind")))
    if superseded is None:
        return {}
    written = superseded.languages.get(language, superseded.languages[FRENCH])
    return {"superseded_title": written.title}


# Countries a letter is posted to that are not in the scheme's registry.
_COUNTRY_NAMES = {"FR": "France"}


def _addressee(
    person: Mapping[str, Any] | None,
    recipient: str,
    payload: Mapping[str, Any],
    shared: LanguageCommon,
    countries: Mapping[str, CountryEntry],
) -> list[str]:
    """Whom the letter is for: the person's name (and the name in its own script), then
    their postal address; an authority's copy names the authority."""
    if recipient != APPLICANT:
        authority = shared.terms.get(f"recipient_{recipient}", recipient)
        if recipient == "consulate" and payload.get("consulate"):
            authority = f"{authority} {payload['consulate']}"
        return [authority]
    person = person or {}
    name = payload.get("full_name") or person.get("full_name")  # the notification says it
    lines = [str(name)] if name else []
    if person.get("full_name_native"):
        lines.append(str(person["full_name_native"]))
    contact = person.get("contact") or {}
    address = contact.get("postal_address") if isinstance(contact, Mapping) else None
    if isinstance(address, Mapping):
        lines += [str(line) for line in address.get("lines") or []]
        lines.append(" ".join(str(p) for p in (address.get("postcode"), address.get("city")) if p))
        # The country's name in capitals, as the Universal Postal Union asks (the code of a
        # country the reference data does not name).
        country = str(address.get("country") or "")
        known = countries.get(country)
        name = known.name if known is not None else _COUNTRY_NAMES.get(country, country)
        lines.append(name.upper())
    return lines


def format_date(day: date, language: str) -> str:
    """`day` as a document in `language` writes it (French when there is no translation)."""
    languages = shipped_templates().common.languages
    return _format_date(day, languages.get(language, languages[FRENCH]))


def reference_of(payload: Mapping[str, Any]) -> str:
    """The dossier's reference a notification names: its application or contract id (a
    correction notice's is the one of the notification it corrects)."""
    for key in ("application_id", "contract_id"):
        if payload.get(key):
            return str(payload[key])
    for told in (payload.get("now"), payload.get("previously")):
        if isinstance(told, Mapping):
            return reference_of(told)
    raise ValueError("the payload names no application_id nor contract_id")


def person_of(start_input: Mapping[str, Any], person_id: str | None = None) -> Mapping[str, Any]:
    """The dossier's person as its input gives them (name, native name, contact): the
    applicant, the CAI's signatory, or the family's signatory `person_id`; empty if none."""
    person: Any = start_input.get("applicant") or start_input.get("signatory")
    if person is None and person_id is not None:
        person = next(
            (s for s in start_input.get("signatories") or [] if s.get("person_id") == person_id),
            None,
        )
    return person if isinstance(person, Mapping) else {}


def person_id_of(payload: Mapping[str, Any]) -> str | None:
    """The family signatory a notification is for (G2), a correction's included."""
    told = payload.get("now") or payload.get("previously") or {}
    found = payload.get("person_id") or (
        told.get("person_id") if isinstance(told, Mapping) else None
    )
    return str(found) if found is not None else None


def person_fields(start_input: Mapping[str, Any], person_id: str | None = None) -> dict[str, str]:
    """What a document names of its person, from the dossier's input: a copy to the
    consulate of a nominative attestation (D4) carries the name a letter to the applicant
    carries in its payload."""
    person = person_of(start_input, person_id)
    return {"full_name": str(person["full_name"])} if person.get("full_name") else {}


def is_document(kind: str, recipient: str) -> bool:
    """Whether a notification of `kind` to `recipient` is made into a document."""
    return kind in DOCUMENT_KINDS or (kind in APPLICANT_LETTER_KINDS and recipient == APPLICANT)


# Why a document was made otherwise than asked, kept with its notification.
NATIVE_NAME_OMITTED = "native name omitted: no shipped font draws it; the Latin name is printed"


def without_native_name(person: Mapping[str, Any]) -> dict[str, Any]:
    """The person, for a letter that prints the travel document's Latin name alone."""
    return {key: value for key, value in person.items() if key != "full_name_native"}


# --- verification -----------------------------------------------------------------------


def document_content(
    kind: str, language: str | None, issued_on: date, fields: Mapping[str, Any]
) -> bytes:
    """What a verification code covers: the document's kind, language, date and every field
    it is composed from (the name, the dates, the hours…), as canonical JSON."""
    return json.dumps(
        {"kind": kind, "language": language, "issued_on": issued_on.isoformat(), "fields": fields},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    ).encode()


def verification_code(workflow_id: str, key: str, secret: bytes, content: bytes = b"") -> str:
    """The code printed on a document: HMAC-SHA256 of its notification's key
    (`{workflow_id}/{key}`, as the Idempotency-Key) and of its `document_content`, 12
    base32 characters in groups of four: a document whose name or dates were altered no
    longer matches. Without `content`, the code of documents issued before codes covered
    their content. Base32 has no 0/1/8 to mistake for O/I/B when read out on the phone."""
    if not secret:
        raise ValueError("a verification code needs a secret: anyone could forge one without")
    message = f"{workflow_id}/{key}".encode() + (b"\n" + content if content else b"")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    code = base64.b32encode(digest).decode("ascii")[:CODE_LENGTH]
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def verification_code_matches(
    workflow_id: str, key: str, code: str, secret: bytes, content: bytes = b""
) -> bool:
    """Whether `code`, as a person types it (any case, grouped or not), is the one of that
    notification's document."""
    typed = "".join(code.split()).replace("-", "").upper()
    expected = verification_code(workflow_id, key, secret, content).replace("-", "")
    return hmac.compare_digest(typed.encode(), expected.encode())

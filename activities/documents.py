"""Letters and attestations as PDF documents, and where the register keeps them (docs/contract.md,
"Notifications are delivered"; migration 008).

`render_pdf` lays out a document `models.documents.compose` decided word for word: fpdf2
with harfbuzz shaping, so Arabic reads right to left with its letters joined, in the fonts
shipped in `fonts/` (see its README). The same composed document always gives the same
bytes (its creation date is its issue date), so a document is kept by its SHA-256 and a
retried delivery sends what the first attempt kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import multiprocessing
import os
import re
import threading
import time as clock
import unicodedata
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, date, datetime, time
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.bidi import BidiParagraph
from fpdf.enums import TextDirection, XPos, YPos
from fpdf.fonts import Glyph
from fpdf.line_break import Fragment
from temporalio import activity

from activities import register_gateway as register
from activities import typefaces
from activities.line_breaks import break_lines
from activities.register_gateway import Connection
from activities.sample_letters import warm_up
from models.documents import (
    NATIVE_NAME_OMITTED,
    Composed,
    compose,
    document_content,
    is_document,
    person_fields,
    person_id_of,
    person_of,
    reference_of,
    verification_code,
    verification_code_matches,
    without_native_name,
)
from models.reference import ReferenceData

MEDIA_TYPE = "application/pdf"
FONTS = Path(__file__).with_name("fonts")
# family → file stem; each has a regular and a bold face
_FAMILIES = {"latin": "NotoSans", "arabic": "Amiri"}
# The main family of a document by its direction, and the one that takes the glyphs the
# main one lacks (an Arabic-script name in a French letter, a Cyrillic one in an Arabic).
_MAIN = {"ltr": ("latin", "arabic"), "rtl": ("arabic", "latin")}
_GREY = (90, 90, 90)
# The day a document is issued is the day its notification was written, in France (B9).
ISSUING_ZONE = ZoneInfo("Europe/Paris")


class UndrawableText(ValueError):
    """A document with characters that no font in `fonts/` draws (a name in a script
    other than Latin, Greek, Cyrillic or Arabic)."""


@cache
def _characters(family: str) -> frozenset[int]:
    """The characters a family draws (its regular face; the bold covers the same)."""
    font = TTFont(FONTS / f"{_FAMILIES[family]}-Regular.ttf", lazy=True)
    return frozenset(font.getBestCmap())


def _text(composed: Composed) -> str:
    return " ".join([*composed.printed(), composed.page_label])


def _drawn(text: str) -> set[int]:
    """The distinct characters of `text` but white space (from its set: a letter's text is
    some 3,000 characters of fewer than a hundred)."""
    return {ord(c) for c in set(text) if not c.isspace()}


def undrawable(text: str, direction: str = "ltr") -> int:
    """How many distinct characters of `text` no shipped font draws."""
    needed = _drawn(text)
    main, fallback = _MAIN[direction]
    return len(needed - _characters(main) - _characters(fallback))


_RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_LTR_LETTER = re.compile("[A-Za-z\u00c0-\u024f\u0370-\u052f]")  # Latin, Greek, Cyrillic


def _direction_of(line: str, default: str) -> str:
    """The direction of a line in one script (figures alone, a telephone number, read left
    to right); `default` for a line that mixes scripts."""
    rtl, ltr = _RTL_LETTER.search(line), _LTR_LETTER.search(line)
    if rtl and not ltr:
        return "rtl"
    return "ltr" if not rtl else default


# Lines and word widths kept per process, by text and setting (`_Document.lines_of`); the
# letters' text needs a few thousand of each.
_LINES: dict[Hashable, tuple[str, ...]] = {}
_WORD_WIDTHS: dict[Hashable, float] = {}


# The bidirectional classes of characters that, in a left-to-right paragraph, stay in its
# one left-to-right run (UAX #9: strong left, numbers and neutrals resolve to its level).
_LEFT_TO_RIGHT_ONLY = frozenset({"L", "EN", "ES", "ET", "CS", "ON", "WS", "NSM"})


@lru_cache(maxsize=typefaces.KEPT)
def _bidi_runs(
    text: str, direction: TextDirection, alias: str
) -> tuple[tuple[str, TextDirection], ...]:
    """The runs of one direction of `text`, in the order they are drawn (UAX #9). A line
    of a left-to-right letter with no right-to-left character is its own one run: the
    algorithm, run in Python, was a tenth of a letter whose reference and code are new."""
    if direction == TextDirection.LTR and all(
        unicodedata.bidirectional(character) in _LEFT_TO_RIGHT_ONLY for character in set(text)
    ):
        return ((text, TextDirection.LTR),) if text else ()
    return BidiParagraph(
        text=text, base_direction=direction, preserve_bn_chars=True, alias=alias
    ).get_bidi_fragments()


class _Document(typefaces.SplitOnce):
    """A4 portrait; the verification code, the circular and the page on every page."""

    def __init__(self, composed: Composed) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.composed = composed
        self.align = "R" if composed.direction == "rtl" else "L"
        # Amiri draws smaller than Noto Sans at the same size: an Arabic letter is set larger.
        self.scale = 1.15 if composed.direction == "rtl" else 1.0
        self.main, fallback = _MAIN[composed.direction]
        families = [self.main]
        # Parsing and subsetting a font is most of a document's time: the second family is
        # added only when the text has a character the first does not draw.
        needed = _drawn(_text(composed))
        if needed - _characters(self.main):
            families.append(fallback)
            undrawn = needed - _characters(self.main) - _characters(fallback)
            if undrawn:
                # A name in boxes is a letter with a hole; the message names no character,
                # since the characters are most likely a person's name.
                raise UndrawableText(
                    f"{composed.kind}: {len(undrawn)} character(s) no shipped font draws"
                )
        for family in families:
            stem = _FAMILIES[family]
            typefaces.add_font(self, family, "", FONTS / f"{stem}-Regular.ttf")
            typefaces.add_font(self, family, "B", FONTS / f"{stem}-Bold.ttf")
        self.families = families
        if len(families) > 1:
            self.set_fallback_fonts([fallback], exact_match=False)
        self.set_text_shaping(
            use_shaping_engine=True, direction=composed.direction, language=composed.language
        )
        self.set_margins(left=20, top=18, right=20)
        self.set_auto_page_break(auto=True, margin=30)

    def write_lines(
        self,
        text: str,
        size: float,
        *,
        bold: bool = False,
        align: str | None = None,
        grey: bool = False,
        height: float | None = None,
    ) -> None:
        self.set_font(self.main, "B" if bold else "", size * self.scale)
        self.set_text_color(*(_GREY if grey else (0, 0, 0)))
        self.paragraph(
            self.w - self.r_margin - self.x,
            (height if height is not None else size * 0.5) * self.scale,
            text,
            align or self.align,
            XPos.LMARGIN,
        )

    def paragraph(self, width: float, height: float, text: str, align: str, end_x: XPos) -> None:
        """`text` in lines of `width` from the current position, as `multi_cell` sets it:
        each line a cell, the position after the last one `end_x` and the next line."""
        lines = self.lines_of(text, width - 2 * self.c_margin)
        for number, line in enumerate(lines, start=1):
            last = number == len(lines)
            self.cell(
                width,
                height,
                line,
                align=align,
                new_x=end_x if last else XPos.LEFT,
                new_y=YPos.NEXT,
            )

    def lines_of(self, text: str, width: float) -> tuple[str, ...]:
        """`text` broken into lines of `width` in the current font, kept per process."""
        setting = self._setting()
        key = (text, width, setting)
        lines = _LINES.get(key)
        if lines is None:
            lines = break_lines(text, width, lambda word: self._word_width(word, setting))
            typefaces.keep(_LINES, key, lines)
        return lines

    def _word_width(self, word: str, setting: Hashable) -> float:
        key = (word, setting)
        width = _WORD_WIDTHS.get(key)
        if width is None:
            width = self.get_string_width(word)
            typefaces.keep(_WORD_WIDTHS, key, width)
        return width

    def _preload_bidirectional_text(self, text: str, markdown: bool) -> Sequence[Fragment]:
        """fpdf2's, the bidirectional algorithm's runs of a text kept per process (a third
        of a letter's layout, for lines that recur letter after letter)."""
        shaping = self.text_shaping
        if markdown or not shaping or not shaping["direction"]:
            return super()._preload_bidirectional_text(text, markdown)
        shaping["paragraph_direction"] = shaping["direction"]
        emphasis = (
            "B" in self.font_style,
            "I" in self.font_style,
            self.strikethrough,
            self.underline,
        )
        fragments: list[Fragment] = []
        for run, direction in _bidi_runs(text, shaping["direction"], self.str_alias_nb_pages):
            shaping["fragment_direction"] = direction
            fragments += self._preload_font_styles(run, markdown, _initial_emphasis=emphasis)
        return tuple(fragments)

    def _setting(self) -> Hashable:
        """What a text's width depends on besides the text: the fonts, the size, the
        shaping."""
        shaping = self.text_shaping or {}
        return (
            tuple(self.families),
            self.font_family,
            self.font_style,
            self.font_size_pt,
            shaping.get("direction"),
            shaping.get("language"),
        )

    def column(
        self, x: float, width: float, lines: Sequence[str], size: float, **style: Any
    ) -> float:
        """`lines` in a column of `width` from `x`, from the current height; returns the
        height below them."""
        for line in self.split_values(lines):
            self.set_x(x)
            # A line in one script reads in its own direction in any letter: an address in
            # Latin letters left to right, a name in Arabic letters right to left.
            direction = _direction_of(line, self.composed.direction)
            # In the family of its script when it is loaded: one run of glyphs, which a
            # reader extracts in the line's order (words in the fallback family, spaces in
            # the main one, come out in the order they are seen).
            family = _MAIN[direction][0]
            if direction != self.composed.direction:
                self._shaping(direction)
            self.set_font(
                family if family in self.families else self.main,
                "B" if style.get("bold") else "",
                size * self.scale,
            )
            self.set_text_color(*(_GREY if style.get("grey") else (0, 0, 0)))
            self.paragraph(
                width, size * 0.47 * self.scale, line, style.get("align", self.align), XPos.LEFT
            )
            if direction != self.composed.direction:
                self._shaping(self.composed.direction)
        return self.get_y()

    def _shaping(self, direction: str) -> None:
        self.set_text_shaping(
            use_shaping_engine=True, direction=direction, language=self.composed.language
        )

    def split_values(self, lines: Sequence[str]) -> list[str]:
        """In a right-to-left letter, a value in Latin letters and figures after its label
        (a telephone number, an e-mail address) goes on a line of its own, read left to
        right: beside an Arabic label, the bidirectional algorithm reverses the groups of
        a number ("50 97 … +212")."""
        if self.composed.direction != "rtl":
            return list(lines)
        split = []
        for line in lines:
            label, colon, value = line.partition(":")
            if colon and _RTL_LETTER.search(label) and not _RTL_LETTER.search(value):
                split += [f"{label}{colon}", value.strip()]
            else:
                split.append(line)
        return split

    def footer(self) -> None:
        composed = self.composed
        self.set_y(-26)
        self.set_draw_color(*_GREY)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)
        self.write_lines(f"{composed.verification} · {composed.reference}", 8.5, bold=True)
        self.write_lines(composed.verification_note, 7.5, grey=True, height=3.6)
        # "Page 1/2": fpdf2 writes the number of pages in place of its alias at the end.
        page = composed.page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.write_lines(f"{composed.circular} · {page}", 7.5, grey=True, height=3.6)


def render_pdf(composed: Composed) -> bytes:
    """The PDF of a composed document: the same input gives the same bytes."""
    pdf = _Document(composed)
    pdf.set_creation_date(datetime.combine(composed.issued_on, time.min, tzinfo=UTC))
    pdf.set_lang(composed.language)
    pdf.set_title(composed.title)
    # The rule ids are the project's: they stay in the metadata, never in the letter.
    pdf.set_subject(f"{composed.kind} ({composed.rule}, NOR IMIG0900055C)")
    pdf.set_keywords(composed.keywords)
    pdf.set_author(composed.issuer)
    pdf.set_creator("integration-visa")
    pdf.add_page()
    _letterhead(pdf, composed)
    pdf.write_lines(composed.subject, 10.5, bold=True, height=5.2)
    if composed.title_fr is not None:
        pdf.write_lines(composed.title_fr, 8.5, grey=True, height=4)
    for detail in [*composed.details, composed.legal]:
        pdf.write_lines(detail, 8.5, height=4.2)
    pdf.ln(4)
    pdf.write_lines(composed.salutation, 10, height=5)
    pdf.ln(1.5)
    for paragraph in composed.paragraphs:
        pdf.write_lines(paragraph, 10, height=5)
        pdf.ln(1.8)
    pdf.write_lines(composed.closing, 10, height=5)
    pdf.ln(6)
    if composed.signatory:
        # Signed on the side opposite the text's start, as a letter is.
        pdf.write_lines(composed.signatory, 10, bold=True, align=_OPPOSITE[pdf.align])
    pdf.ln(5)
    for notice in composed.notices:
        pdf.write_lines(notice, 7.5, grey=True, height=3.5)
        pdf.ln(1.2)
    _map_cluster_continuations(pdf)
    return bytes(pdf.output(output_producer_class=typefaces.SubsettingOnce))


class _NoText(int):
    """A ToUnicode destination fpdf2 writes as `<>`: the glyph stands for no text."""

    def __format__(self, spec: str) -> str:
        return ""


def _map_cluster_continuations(pdf: FPDF) -> None:
    """The text layer reads back as written: where shaping draws one character with two
    glyphs (Amiri's lam before a kaf is a lam and a joining piece), fpdf2 maps the first
    glyph to the character and leaves the other unmapped, and a reader then extracts that
    glyph's code as a character of its own ("الإ\x08لكتروني", "z", "4"). The second
    glyph is mapped to no text instead."""
    for font in pdf.fonts.values():
        subset = getattr(font, "subset", None)
        if subset is None:
            continue
        # The map fpdf2 writes ToUnicode from.
        codes = subset._char_id_per_glyph
        for glyph in [g for g in codes if g is not None and g.unicode == ()]:
            code = codes.pop(glyph)
            codes[Glyph(glyph.glyph_id, (_NoText(0),), glyph.glyph_name, glyph.glyph_width)] = code


# The window of a French window envelope (DL, NF EN ISO 269): the addressee's block.
_WINDOW_X, _WINDOW_Y, _WINDOW_WIDTH = 110.0, 45.0, 80.0
_OPPOSITE = {"L": "R", "R": "L"}


def _letterhead(pdf: _Document, composed: Composed) -> None:
    """The issuer's block and the place-and-date line on the text's side, the addressee's
    name and postal address in the envelope's window on the other (mirrored in Arabic)."""
    rtl = composed.direction == "rtl"
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2 - 5
    issuer_x = pdf.w - pdf.r_margin - half if rtl else pdf.l_margin
    top = pdf.get_y()
    pdf.column(issuer_x, half, [composed.republic, composed.issuer], 9.5, bold=True)
    below_issuer = pdf.column(issuer_x, half, composed.issuer_block, 8, grey=True)
    window_x = pdf.l_margin if rtl else _WINDOW_X
    pdf.set_y(top)
    pdf.column(window_x, _WINDOW_WIDTH, [composed.place_date], 9.5)
    pdf.set_y(max(pdf.get_y() + 4, _WINDOW_Y))
    below_window = pdf.column(window_x, _WINDOW_WIDTH, composed.addressee, 10)
    pdf.set_y(max(below_issuer, below_window) + 8)


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def store_document(
    connection: asyncpg.Pool | Connection,
    workflow_id: str,
    key: str,
    run_id: str | None,
    pdf: bytes,
    note: str | None = None,
) -> str:
    """Keep `pdf` with its notification (`run_id` None: the one on the dossier's current
    branch) and return the digest of the document the notification keeps: the first one
    stored, which may already have been delivered; a later rendering never replaces it.
    `note`: why it was made otherwise than asked, kept with the notification."""
    kept = await register.keep_document(
        connection, workflow_id, key, run_id, sha256_of(pdf), pdf, MEDIA_TYPE, note
    )
    if kept is None:
        raise LookupError(f"no notification {workflow_id}/{key} to keep a document with")
    return kept


async def load_document(pool: asyncpg.Pool | Connection, sha256: str) -> bytes | None:
    """A kept document by its digest; None when there is none (or retention erased it)."""
    content = await pool.fetchval("SELECT content FROM document WHERE sha256 = $1", sha256)
    return bytes(content) if content is not None else None


class NotificationLike(Protocol):
    """What the documents read of the notification row the delivery read
    (`register_gateway.StoredNotification`)."""

    @property
    def workflow_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def document_sha256(self) -> str | None: ...
    @property
    def start(self) -> Any: ...


class NotificationDocuments:
    """The document of a notification, made once and kept with it: called by the delivery
    with each notification, it returns (file name, PDF) for the kinds that are a document
    and None for the others. The name on a copy to an authority comes from the dossier's
    input (D4: the attestation is nominative), and so do the addressee's native name and
    postal address; the issuer's block comes from `reference_data` (the worker's, with the
    operator's override; the shipped data when None).

    A native name no shipped font draws is left out, the Latin name printed, and the
    notification keeps why (`document_note`): never a retry, which would fail the same
    way for as long as it ran. A Latin name no font draws raises `UndrawableText`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        secret: bytes,
        renderer: Executor | None = None,
        reference_data: ReferenceData | None = None,
    ) -> None:
        if not secret:
            raise ValueError("documents need a verification secret")
        self.pool = pool
        self.secret = secret
        self.renderer = renderer  # None: a thread of the event loop's default executor
        self.reference_data = reference_data

    async def __call__(self, note: NotificationLike) -> tuple[str, bytes] | None:
        if not is_document(note.kind, note.recipient):
            return None
        reference = reference_of(note.payload)
        name = f"{note.kind}-{reference}.pdf"
        if note.document_sha256 is not None:
            kept = await load_document(self.pool, note.document_sha256)
            if kept is not None:
                return name, kept
        payload = document_fields(note)
        issued_on = issued_on_of(note)
        content = document_content(note.kind, note.language, issued_on, payload)
        person = person_of(note.start or {}, person_id_of(note.payload))
        composed, omitted = self._drawable(
            lambda person: compose(
                note.kind,
                payload,
                note.language,
                reference=reference,
                rule=str(payload.get("rule", "")),
                issued_on=issued_on,
                verification_code=verification_code(
                    note.workflow_id, note.key, self.secret, content
                ),
                reference_data=self.reference_data,
                person=person,
                recipient=note.recipient,
            ),
            person,
        )
        pdf = await asyncio.get_running_loop().run_in_executor(self.renderer, render_pdf, composed)
        why = NATIVE_NAME_OMITTED if omitted else None
        digest = await store_document(self.pool, note.workflow_id, note.key, None, pdf, why)
        if digest != sha256_of(pdf):  # made before: the one delivered, if it was
            kept = await load_document(self.pool, digest)
            pdf = kept if kept is not None else pdf
        if omitted:
            # By ids only: the reason is the name's script, never the name.
            activity.logger.warning(
                "native name omitted from a document", extra={"key": note.key, "kind": note.kind}
            )
        return name, pdf

    @staticmethod
    def _drawable(
        composing: Callable[[Mapping[str, Any]], Composed], person: Mapping[str, Any]
    ) -> tuple[Composed, bool]:
        """The letter, and whether the person's native name was left out of it because no
        shipped font draws it."""
        composed = composing(person)
        if person.get("full_name_native") and undrawable(_text(composed), composed.direction):
            return composing(without_native_name(person)), True
        return composed, False


def document_fields(note: NotificationLike) -> dict[str, Any]:
    """The fields a document is composed from: its notification's payload, and the name
    of the person from the dossier's input when the payload does not carry it (D4: the
    attestation is nominative)."""
    payload = dict(note.payload)
    if not payload.get("full_name"):
        payload.update(person_fields(note.start or {}, payload.get("person_id")))
    return payload


def issued_on_of(note: NotificationLike) -> date:
    """A document is dated the day its notification was written, in France."""
    return note.created_at.astimezone(ISSUING_ZONE).date()


@dataclasses.dataclass(frozen=True)
class Verified:
    """A document whose printed code matches: which one, and whether its code covers its
    content (documents issued before codes did carry a code of their key only)."""

    workflow_id: str
    key: str
    kind: str
    recipient: str
    issued_on: date
    holder: str  # the name printed on it, for the agent to compare with the paper
    document_sha256: str | None
    covers_content: bool


async def verify_code(
    connection: Connection, workflow_ids: Sequence[str], code: str, secret: bytes
) -> Verified | None:
    """The document of these dossiers whose verification code is `code`, if any."""
    for note in await register.documents_of(connection, workflow_ids):
        fields = document_fields(note)
        issued_on = issued_on_of(note)
        content = document_content(note.kind, note.language, issued_on, fields)
        for covers_content, covered in ((True, content), (False, b"")):
            if verification_code_matches(note.workflow_id, note.key, code, secret, covered):
                return Verified(
                    note.workflow_id,
                    note.key,
                    note.kind,
                    note.recipient,
                    issued_on,
                    str(fields.get("full_name") or "-"),
                    note.document_sha256,
                    covers_content,
                )
    return None


# How soon a renderer notices that its worker is gone.
PARENT_WATCH_SECONDS = 1.0


@contextlib.contextmanager
def document_renderer(processes: int = 1) -> Iterator[Executor]:
    """Processes that lay out the PDFs. A document is pure-Python work that holds the GIL:
    rendered in the worker's own process, a burst of deliveries starved its workflow tasks
    past their 5-second warning and made queries time out. Spawned, not forked: the
    worker's process runs the SDK's native threads. Each lays out every template once as
    it starts (`sample_letters.warm_up`), so that the first delivery does not."""
    executor = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_renderer,
        initargs=(os.getpid(),),
    )
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _start_renderer(parent: int) -> None:
    _exit_with_parent(parent)
    warm_up(render_pdf)


def _exit_with_parent(parent: int) -> None:
    """A renderer outlives no worker: one killed outright (SIGKILL, an OOM kill) cannot shut
    its pool down, and its renderer would wait for work for ever."""

    def watch() -> None:
        while os.getppid() == parent:
            clock.sleep(PARENT_WATCH_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()

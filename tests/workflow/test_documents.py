"""Letters and attestations as PDF: every document in French, Arabic, Turkish and English
reads back with its facts; Arabic right to left with joined letters; the same document is
the same bytes; the register keeps it once, by its digest, with its notification."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import json
import re
import signal
import subprocess
import sys
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from fpdf.bidi import BidiParagraph
from fpdf.enums import TextDirection
from fpdf.fonts import SubsetMap
from fpdf.line_break import Fragment
from pypdf import PdfReader

from activities import documents, typefaces
from activities.database import ensure_login_role, open_pool
from activities.documents import (
    PARENT_WATCH_SECONDS,
    NotificationDocuments,
    UndrawableText,
    document_renderer,
    load_document,
    render_pdf,
    sha256_of,
    store_document,
    verify_code,
)
from activities.register_gateway import document_note, documents_of, notification_for_delivery
from models.documents import (
    NATIVE_NAME_OMITTED,
    Composed,
    compose,
    format_date,
    verification_code,
)
from scripts.cli_delivery import deliveries, verify_document
from scripts.cli_errors import NotVerified
from tests.unit.document_samples import (
    APPLICANT,
    ISSUED_ON,
    ISSUED_ON_WRITTEN,
    LANGUAGES,
    LETTERS,
    SAMPLES,
    Sample,
)
from workers.postgres import as_role
from workers.settings import Settings

SECRET = b"workflow-test-document-secret"
ARABIC_LETTERS = re.compile("[\u0621-\u064a]")


def _compose(sample: Sample, language: str | None, **changes: Any) -> Composed:
    return compose(
        sample.kind,
        {**sample.payload, **changes},
        language,
        person=sample.person,
        recipient=sample.recipient,
        reference=sample.reference,
        rule=sample.rule,
        issued_on=ISSUED_ON,
        verification_code=verification_code(sample.workflow_id, sample.key, SECRET),
    )


def _text(pdf: bytes) -> str:
    """The document's text as a reader extracts it, one space for any run of white space."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.mark.rule("A4")
@pytest.mark.parametrize("kind", sorted(SAMPLES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_document_reads_back_with_its_facts(kind: str, language: str) -> None:
    sample = SAMPLES[kind]
    composed = _compose(sample, language)
    pdf = render_pdf(composed)
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    facts = [
        sample.full_name,
        sample.reference,
        ISSUED_ON_WRITTEN[language],
        composed.verification_code,
        *(format_date(date.fromisoformat(sample.payload[f]), language) for f in sample.dates),
    ]
    for fact in facts:
        assert fact in text, f"{fact!r} not in the {language} {kind}"
    assert len(PdfReader(io.BytesIO(pdf)).pages) <= 2
    # The PDF says its language, for screen readers; the rule ids are in its metadata only.
    assert f"/Lang ({language})".encode() in pdf
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None and sample.rule in str(metadata.get("/Keywords"))


@pytest.mark.rule("A4")
def test_an_arabic_letter_reads_right_to_left_with_joined_letters() -> None:
    pdf = render_pdf(_compose(SAMPLES["invitation"], "ar"))
    phrase = "التقييم مجاني"  # "the evaluation is free", a sentence of the template
    assert phrase in _text(pdf)
    assert phrase[::-1] not in _text(pdf)
    # Right to left: the first letter of the phrase stands right of its last one.
    page = pdfium.PdfDocument(pdf)[0]
    found = page.get_textpage().search(phrase).get_next()
    assert found is not None
    start, count = found
    textpage = page.get_textpage()
    first_left = textpage.get_charbox(start)[0]
    last_right = textpage.get_charbox(start + count - 1)[2]
    assert first_left > last_right
    # Joined: a letter is drawn by several glyphs (its initial, medial, final forms), each
    # mapped back to the letter; without shaping each letter would have its one glyph.
    glyphs_per_letter = Counter(
        letter for letter in _glyph_texts(pdf) if len(letter) == 1 and ARABIC_LETTERS.match(letter)
    )
    assert glyphs_per_letter and max(glyphs_per_letter.values()) >= 3


def _glyph_texts(pdf: bytes) -> list[str]:
    """The text each glyph of each font of the first page stands for (ToUnicode)."""
    reader = PdfReader(io.BytesIO(pdf))
    texts = []
    resources: Any = reader.pages[0]["/Resources"]  # pypdf types a PDF dictionary loosely
    for font in resources["/Font"].values():
        cmap = font.get_object()["/ToUnicode"].get_object().get_data().decode()
        for _, hex_text in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap):
            texts.append(bytes.fromhex(hex_text).decode("utf-16-be"))
    return texts


def test_a_turkish_letter_keeps_its_letters() -> None:
    text = _text(render_pdf(_compose(SAMPLES["parents_training_convocation"], "tr")))
    assert "Ayşe Demir" in text and "çağrılıyorsunuz" in text and "24 Mart 2009" in text


def _first_render_in_a_fresh_process(composed: Composed) -> str:
    """The digest of `composed` rendered by a new process, with other hash seeds."""
    script = (
        "import sys, hashlib\n"
        "from models.documents import Composed\n"
        "from activities.documents import render_pdf\n"
        "composed = Composed.model_validate_json(sys.stdin.read())\n"
        "print(hashlib.sha256(render_pdf(composed)).hexdigest())\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script],
        input=composed.model_dump_json(),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    return fresh.stdout.strip()


def test_the_same_document_is_the_same_bytes_in_any_process() -> None:
    sample = SAMPLES["training_prescription"]
    pdf = render_pdf(_compose(sample, "ar"))
    assert render_pdf(_compose(sample, "ar")) == pdf
    assert _first_render_in_a_fresh_process(_compose(sample, "ar")) == sha256_of(pdf)
    later = compose(
        sample.kind,
        sample.payload,
        "ar",
        reference=sample.reference,
        rule=sample.rule,
        issued_on=date(2009, 3, 2),
        verification_code=_compose(sample, "ar").verification_code,
    )
    assert sha256_of(render_pdf(later)) != sha256_of(pdf)


# A name in the scripts of the letters, and one with letters outside them (Latin Extended-C
# and D), which are subset from the whole face.
@pytest.mark.parametrize(("language", "full_name"), [("ar", None), ("fr", "Ɫuka Ꞌokina")])
def test_a_process_that_rendered_letters_renders_the_next_as_a_fresh_process_does(
    language: str, full_name: str | None
) -> None:
    """The fonts, widths and subsetting sources a process keeps (activities/typefaces.py)
    change no byte of a document."""
    changes = {"full_name": full_name} if full_name else {}
    composed = _compose(SAMPLES["invitation"], language, **changes)
    for other in LANGUAGES:
        render_pdf(_compose(SAMPLES["training_prescription"], other))
    render_pdf(composed)
    assert sha256_of(render_pdf(composed)) == _first_render_in_a_fresh_process(composed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_letters_drawn_from_the_layouts_a_process_keeps_are_those_fpdf2_draws(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line's split into fragments and its glyphs' placing, kept per process
    (`typefaces.SplitOnce`, `typefaces.PlacedFragment`), give the bytes fpdf2 gives drawing
    every letter a character and a glyph at a time."""
    letters = [
        _compose(LETTERS[kind], language, **changes)
        for kind in sorted(LETTERS)
        for changes in ({}, {"full_name": "Mehmet Yılmaz"}, {"full_name": "أمينة الإدريسي"})
    ]
    kept = [sha256_of(render_pdf(composed)) for composed in letters]
    monkeypatch.setattr(typefaces.SplitOnce, "_parse_chars", FPDF._parse_chars)
    monkeypatch.setattr(
        typefaces.PlacedFragment, "render_with_text_shaping", Fragment.render_with_text_shaping
    )
    assert [sha256_of(render_pdf(composed)) for composed in letters] == kept


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "ar"])
def test_a_left_to_right_line_is_split_into_runs_as_the_bidirectional_algorithm_splits_it(
    language: str,
) -> None:
    """The runs of a line without right-to-left characters are taken as one, not computed:
    what the algorithm gives, for every line of every template, names and numbers of every
    kind in them."""
    names = ["Zoë Ørsted (née Ø)", "Jean-Luc, 12/05/2024, +33 1 23 45 67 89", "أمينة الإدريسي"]
    lines = {
        line
        for kind in sorted(LETTERS)
        for name in names
        for composed in [_compose(LETTERS[kind], language, full_name=name)]
        for line in [
            composed.subject,
            composed.legal,
            composed.salutation,
            composed.closing,
            composed.verification_note,
            f"{composed.verification} · {composed.reference}",
            *composed.details,
            *composed.paragraphs,
            *composed.notices,
            *composed.addressee,
            *composed.issuer_block,
        ]
    }
    for line in lines:
        computed = BidiParagraph(
            text=line, base_direction=TextDirection.LTR, preserve_bn_chars=True, alias="{nb}"
        ).get_bidi_fragments()
        assert documents._bidi_runs(line, TextDirection.LTR, "{nb}") == tuple(computed), line


def test_a_renderer_keeps_nothing_of_the_letters_it_laid_out() -> None:
    """fpdf2's subset maps remember their lookups in caches of the class, which kept every
    document's map and its font's widths for the renderer's life; a document's map now
    keeps them itself, and nothing of it outlives the letter."""
    letters = [_compose(LETTERS[kind], "fr", full_name=f"Nom {kind}") for kind in sorted(LETTERS)]
    render_pdf(letters[0])
    kept = (SubsetMap.get_glyph.cache_info().currsize, SubsetMap.pick.cache_info().currsize)
    for composed in letters * 3:
        render_pdf(composed)
    gc.collect()
    assert (SubsetMap.get_glyph.cache_info().currsize, SubsetMap.pick.cache_info().currsize) == kept
    assert not [font for font in gc.get_objects() if isinstance(font, typefaces.DocumentFont)]


def _lines(pdf: bytes) -> list[str]:
    """The document's text as a reader extracts it, line by line, white space as written."""
    reader = PdfReader(io.BytesIO(pdf))
    return [line.strip() for page in reader.pages for line in page.extract_text().splitlines()]


@pytest.mark.parametrize("kind", sorted(LETTERS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_text_layer_reads_back_every_block_exactly(kind: str, language: str) -> None:
    """What a screen reader, a search or a copy reads is what is printed: every block of
    the letter, and no character of its own (a stray code for a shaped Arabic letter)."""
    composed = _compose(LETTERS[kind], language)
    pdf = render_pdf(composed)
    text = _text(pdf)
    lines = _lines(pdf)
    assert not {c for c in text if unicodedata.category(c).startswith("C")}, "a stray code"
    single_lines = [
        composed.place_date,
        composed.salutation,
        composed.signatory,
        *composed.issuer_block,
        *composed.addressee,
    ]
    if language == "ar":  # a reader reorders a line that mixes Arabic with Latin or figures
        single_lines = [line for line in single_lines if not _mixed(line)]
    for line in single_lines:
        assert line in lines or line in text, f"{line!r} not in the {language} {kind}"
    words = " ".join(
        [composed.subject, composed.legal, *composed.paragraphs, composed.closing]
    ).split()
    for word in words:
        if language == "ar":
            # Figures, Latin words and the punctuation beside them among Arabic: placed by
            # the reader's own reordering. The Arabic letters read back exactly.
            word = re.sub("[^\u0621-\u0652]", "", word)
        assert word in text, f"{word!r} not in the {language} {kind}"
    page = re.escape(
        composed.page_label.format(page=1, pages=len(PdfReader(io.BytesIO(pdf)).pages))
    )
    assert re.search(page, text) or language == "ar"
    assert composed.verification_code in text


def _mixed(line: str) -> bool:
    return bool(ARABIC_LETTERS.search(line)) and bool(re.search(r"[A-Za-z0-9]", line))


def test_arabic_ligatures_extract_as_their_letters() -> None:
    """Amiri draws the lam of "الإلكتروني" with two glyphs; the second used to extract as
    a character of its own ("z", "4", "\x08")."""
    pdf = render_pdf(_compose(SAMPLES["invitation"], "ar"))
    text = _text(pdf)
    assert "البريد الإلكتروني" in text
    for word in ("الإلكتروني", "للمكتب", "الكفاءات", "لإجراء"):
        assert word in text or word not in " ".join(_compose(SAMPLES["invitation"], "ar").notices)


def test_a_native_name_drawn_stands_under_the_latin_one() -> None:
    text = _text(render_pdf(_compose(SAMPLES["invitation"], "fr")))
    assert "Amina El Idrissi" in text and "أمينة الإدريسي" in text


def test_a_name_no_shipped_font_draws_is_refused_rather_than_drawn_as_boxes() -> None:
    with pytest.raises(UndrawableText, match="character"):
        render_pdf(_compose(SAMPLES["invitation"], "fr", full_name="王芳"))
    # Arabic script in a French letter, Cyrillic in an Arabic one: the other font draws it.
    assert "أمينة" in _text(render_pdf(_compose(SAMPLES["invitation"], "fr", full_name="أمينة")))
    assert "Наталья" in _text(
        render_pdf(_compose(SAMPLES["invitation"], "ar", full_name="Наталья"))
    )


# --- the register -------------------------------------------------------------------------


async def _notification(
    connection: asyncpg.Pool | asyncpg.Connection,
    sample: Sample,
    workflow_id: str,
    *,
    run_id: str = "run-1",
    payload: dict[str, Any] | None = None,
    language: str | None = "ar",
) -> None:
    await connection.execute(
        """INSERT INTO notification (workflow_id, key, recipient, kind, language, payload, run_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        workflow_id,
        sample.key,
        sample.key.split(".")[2],
        sample.kind,
        language,
        payload if payload is not None else sample.payload,
        run_id,
    )


async def test_documents_stored_at_once_for_one_notification_keep_the_first_only(
    pool: asyncpg.Pool,
) -> None:
    """Two deliveries of one notification laying out its letter at the same moment (a
    postman's lease run out under a slow renderer): the row's lock makes every writer
    return the one document kept, and only that one is stored."""
    sample = SAMPLES["invitation"]
    workflow_id = f"visa-DOC-{uuid.uuid4().hex[:8]}"
    await _notification(pool, sample, workflow_id)
    # Named after this dossier: documents are stored by digest, shared by every test.
    name = f"Amina {workflow_id}"
    renderings = [render_pdf(_compose(sample, language, full_name=name)) for language in LANGUAGES]
    kept = await asyncio.gather(
        *(store_document(pool, workflow_id, sample.key, None, pdf) for pdf in renderings)
    )
    assert len(set(kept)) == 1
    assert kept[0] in {sha256_of(pdf) for pdf in renderings}
    stored = [sha256_of(pdf) for pdf in renderings if await load_document(pool, sha256_of(pdf))]
    assert stored == [kept[0]]


async def test_a_document_is_kept_once_by_its_digest_with_its_notification(
    pool: asyncpg.Pool,
) -> None:
    sample = SAMPLES["invitation"]
    workflow_id = f"visa-DOC-{uuid.uuid4().hex[:8]}"
    await _notification(pool, sample, workflow_id)
    pdf = render_pdf(_compose(sample, "ar"))
    async with pool.acquire() as connection:
        digest = await store_document(connection, workflow_id, sample.key, "run-1", pdf)
        assert digest == hashlib.sha256(pdf).hexdigest()
        assert await store_document(connection, workflow_id, sample.key, "run-1", pdf) == digest
        # A later rendering never replaces the document that may have been delivered.
        other = render_pdf(_compose(sample, "fr"))
        assert await store_document(connection, workflow_id, sample.key, None, other) == digest
        with pytest.raises(LookupError, match="no notification"):
            await store_document(connection, workflow_id, "000099.invitation.applicant", None, pdf)
    assert await load_document(pool, digest) == pdf
    assert await load_document(pool, sha256_of(other)) is None
    assert await load_document(pool, "0" * 64) is None
    row = await pool.fetchrow(
        "SELECT document_sha256 FROM notification WHERE workflow_id = $1", workflow_id
    )
    assert row is not None and row["document_sha256"] == digest
    stored = await pool.fetchrow(
        "SELECT media_type, created_at FROM document WHERE sha256 = $1", digest
    )
    assert stored is not None and stored["media_type"] == "application/pdf"


async def test_the_database_refuses_a_document_under_another_digest(pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO document (sha256, content) VALUES ($1, $2)", "0" * 64, b"%PDF-1.4"
        )


@pytest.fixture
async def worker_pool(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the worker's role; `pool` (the owner's) has migrated the schema."""
    await ensure_login_role(database_url, "test_document_worker")
    worker = await open_pool(as_role(database_url, "test_document_worker"), migrated=False)
    try:
        yield worker
    finally:
        await worker.close()


async def test_the_worker_role_keeps_documents_and_rewrites_none(
    pool: asyncpg.Pool, worker_pool: asyncpg.Pool
) -> None:
    sample = SAMPLES["attestation_values"]
    workflow_id = f"visa-DOC-{uuid.uuid4().hex[:8]}"
    await _notification(pool, sample, workflow_id)
    pdf = render_pdf(_compose(sample, "ar"))
    async with worker_pool.acquire() as connection:
        digest = await store_document(connection, workflow_id, sample.key, "run-1", pdf)
    assert await load_document(worker_pool, digest) == pdf
    for statement in (
        "UPDATE document SET content = 'x' WHERE sha256 = $1",
        "UPDATE document SET media_type = 'text/plain' WHERE sha256 = $1",
        "DELETE FROM document WHERE sha256 = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker_pool.execute(statement, digest)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await worker_pool.execute(
            "UPDATE notification SET payload = '{}' WHERE workflow_id = $1", workflow_id
        )


async def _verifiable(pool: asyncpg.Pool, workflow_id: str, key: str, text: str) -> None:
    """`dossiers verify`: the code printed covers the document's content, and the register
    finds the document by it, with the name it bears; another code finds nothing."""
    [printed] = set(re.findall(r"\b[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}\b", text))
    key_only = verification_code(workflow_id, key, SECRET)
    assert printed != key_only, "the code covers the content, not the key alone"
    async with pool.acquire() as connection:
        found = await verify_code(connection, [workflow_id], printed.lower(), SECRET)
        assert found is not None and (found.key, found.covers_content) == (key, True)
        assert found.holder == "Amina El Idrissi"
        assert await verify_code(connection, [workflow_id], "AAAA-BBBB-CCCC", SECRET) is None
        assert await verify_code(connection, ["visa-OTHER"], printed, SECRET) is None
        legacy = await verify_code(connection, [workflow_id], key_only, SECRET)
        assert legacy is not None and not legacy.covers_content


@pytest.mark.rule("D4")
@pytest.mark.parametrize("in_process", [False, True], ids=["thread", "renderer process"])
async def test_the_delivery_gets_each_document_made_once_and_named_from_the_dossier(
    pool: asyncpg.Pool, in_process: bool
) -> None:
    """Laid out in a thread, or in the worker's renderer process (`document_renderer`)."""
    with document_renderer() as renderer:
        await _made_once_and_named(pool, renderer if in_process else None)


async def test_dossiers_verify_answers_from_the_register(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """`dossiers verify REFERENCE CODE`, as an agent at a counter runs it: on its own
    connection to the register (whose JSON it must read as the pool does)."""
    workflow_id = await _made_once_and_named(pool, None)
    reference = workflow_id.removeprefix("visa-")
    settings = Settings(database_url=database_url, document_secret=SECRET.decode())
    async with pool.acquire() as connection:
        [note] = await documents_of(connection, [workflow_id])
    text = _text((await NotificationDocuments(pool, SECRET)(note) or ("", b""))[1])
    [code] = set(re.findall(r"\b[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}\b", text))
    answer = await verify_document(settings, reference, code)
    assert "Amina El Idrissi" in answer.text and workflow_id in answer.text
    assert answer.data["verified"] is True and answer.data["workflow_id"] == workflow_id
    with pytest.raises(NotVerified):
        await verify_document(settings, reference, "AAAA-BBBB-CCCC")


async def _made_once_and_named(pool: asyncpg.Pool, renderer: Executor | None) -> str:
    sample = SAMPLES["training_attestation"]
    workflow_id = f"visa-DOC-{uuid.uuid4().hex[:8]}"
    payload = {k: v for k, v in sample.payload.items() if k != "full_name"}  # as the core says
    await pool.execute(
        """INSERT INTO dossier_event (workflow_id, seq, event, source, accepted, payload,
                                      received_at, run_id)
           VALUES ($1, 1, 'start', 'start', true, $2, now(), 'run-1')""",
        workflow_id,
        {"application_id": sample.reference, "applicant": {"full_name": "Amina El Idrissi"}},
    )
    await _notification(pool, sample, workflow_id, payload=payload, language=None)
    documents = NotificationDocuments(pool, SECRET, renderer)
    note = await notification_for_delivery(pool, workflow_id, sample.key)
    assert note is not None
    made = await documents(note)
    assert made is not None
    name, pdf = made
    assert name == f"training_attestation-{sample.reference}.pdf"
    text = _text(pdf)
    assert "Amina El Idrissi" in text and "Attestation nominative de suivi de formation" in text
    await _verifiable(pool, workflow_id, sample.key, text)
    assert await documents(note) == made  # made again: the kept document is returned
    kept = await notification_for_delivery(pool, workflow_id, sample.key)
    assert kept is not None and await documents(kept) == made  # kept: the same bytes
    row = await pool.fetchrow(
        "SELECT document_sha256 FROM notification WHERE workflow_id = $1", workflow_id
    )
    assert row is not None and row["document_sha256"] == sha256_of(pdf)
    not_a_document = replace(
        note, key="000002.evaluation_results.consulate", kind="evaluation_results"
    )
    assert await documents(not_a_document) is None
    assert json.loads(json.dumps(payload)) == note.payload  # the caller's payload untouched
    return workflow_id


def test_a_renderer_does_not_outlive_a_worker_killed_outright() -> None:
    """SIGKILL (an OOM kill) gives the worker no chance to shut its renderer down: the
    renderer notices and exits by itself."""
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\n"
            "from activities.documents import document_renderer\n"
            "with document_renderer() as renderer:\n"
            "    print(renderer.submit(os.getpid).result(), flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    renderer = int(worker.stdout)
    deadline = time.monotonic() + 10 * PARENT_WATCH_SECONDS
    while _running(renderer):
        assert time.monotonic() < deadline, f"renderer {renderer} outlived its worker"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a parent that reaps nothing."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_native_name_no_font_draws_is_left_out_and_the_notification_says_so(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """The letter prints the Latin name of the travel document, and the register keeps why
    the native one is missing: never a retry that would fail the same way for 30 days. The
    operators' list of notifications says it, so that an agent adds the name by hand."""
    sample = SAMPLES["invitation"]
    workflow_id = f"visa-DOC-{uuid.uuid4().hex[:8]}"
    applicant = {**APPLICANT, "full_name": "Wang Fang", "full_name_native": "王芳"}
    await pool.execute(
        """INSERT INTO dossier_event (workflow_id, seq, event, source, accepted, payload,
                                      received_at, run_id)
           VALUES ($1, 1, 'start', 'start', true, $2, now(), 'run-1')""",
        workflow_id,
        {"application_id": sample.reference, "applicant": applicant},
    )
    payload = {**sample.payload, "full_name": "Wang Fang"}
    await _notification(pool, sample, workflow_id, payload=payload, language="fr")
    note = await notification_for_delivery(pool, workflow_id, sample.key)
    assert note is not None
    made = await NotificationDocuments(pool, SECRET)(note)
    assert made is not None
    text = _text(made[1])
    assert "Wang Fang" in text and "王" not in text and "12, rue Oued Ziz" in text
    assert await document_note(pool, workflow_id, sample.key) == NATIVE_NAME_OMITTED
    settings = Settings(database_url=database_url)
    [listed] = (await deliveries(settings, workflow_id, 10, undelivered=False)).data
    assert listed["key"] == sample.key and listed["document_note"] == NATIVE_NAME_OMITTED
    said = await deliveries(settings, workflow_id, 10, undelivered=False, language="en")
    assert said.text.endswith(
        "[native name left out of the letter: no shipped font draws it, "
        "the Latin name is printed; to be added by hand]"
    )

"""Strict, bounded input: no coercion of types, no invisible characters, every text, list,
date and payload bounded; and nothing the rules cannot judge stalls a dossier."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from models import history
from models.cai import CAI
from models.errors import InputRejected
from models.history import KEPT_REJECTIONS
from models.visa.events import VisaApplicationFiled, VisaApplicationInput
from tests.unit.builders import (
    application,
    feed,
    language_evaluation,
    open_,
    send,
    unchanged_but_seq,
)
from tests.unit.test_cai_rules import REFERENCE, SIGNED, contract

DAY = date(2009, 2, 20)


def _refused(payload: dict[str, Any], name: str = "language_evaluation") -> tuple[str, str]:
    before = open_().state
    step = send(before, name, payload, today=DAY)
    assert step.rejection is not None, payload
    assert unchanged_but_seq(before, step.state)
    return step.rejection.rule or "", step.rejection.field or ""


def _evaluation(**fields: Any) -> dict[str, Any]:
    return {**language_evaluation(DAY)[1], **fields}


@pytest.mark.rule("D1")
@pytest.mark.parametrize("score", [True, "50", 50.0, None])
def test_a_score_is_a_number_never_a_boolean_or_a_text(score: Any) -> None:
    assert _refused(_evaluation(oral_score=score)) == ("D1", "oral_score")


@pytest.mark.rule("D1")
@pytest.mark.parametrize(
    "evaluator",
    [
        "OFII\u200bRabat",  # zero-width space
        "\u202eOFII Rabat",  # right-to-left override
        "OFII\x00Rabat",  # NUL: PostgreSQL refuses it
        "x" * 501,
    ],
    ids=["zero-width", "bidi-override", "nul", "too-long"],
)
def test_invisible_characters_and_overlong_texts_are_refused(evaluator: str) -> None:
    assert _refused(_evaluation(evaluator=evaluator)) == ("D1", "evaluator")


@pytest.mark.rule("D1")
def test_texts_are_normalised_so_a_duplicate_in_other_code_points_is_a_duplicate() -> None:
    composed = send(
        open_().state, "language_evaluation", _evaluation(evaluator="Délégué"), today=DAY
    )
    assert composed.rejection is None
    again = send(
        composed.state,
        "language_evaluation",
        _evaluation(evaluator="De\u0301le\u0301gue\u0301"),
        today=DAY,
    )
    assert again.rejection is not None and again.rejection.rule == "duplicate"


@pytest.mark.rule("A4")
@pytest.mark.parametrize(
    "languages",
    [["ar"] * 2, [f"l{chr(97 + i)}" for i in range(11)], []],
    ids=["repeated", "eleven", "none"],
)
def test_declared_languages_are_a_short_list_of_distinct_codes(languages: list[str]) -> None:
    with pytest.raises(InputRejected) as caught:
        open_(application(applicant={"languages": languages}))
    assert caught.value.field is not None and caught.value.field.startswith("applicant.languages")


@pytest.mark.rule("A1")
def test_a_birth_date_before_1900_is_refused() -> None:
    with pytest.raises(InputRejected) as caught:
        open_(application(applicant={"birth_date": "1850-01-01"}))
    assert caught.value.field == "applicant.birth_date"


@pytest.mark.rule("B1")
def test_a_start_dated_9999_is_refused_naming_its_field() -> None:
    raw = application(complete_file_date="9999-12-31", visa_application_date="9999-12-31")
    with pytest.raises(InputRejected) as caught:
        open_(raw, today=date(2009, 2, 2))
    assert (caught.value.rule, caught.value.field) == ("B1", "complete_file_date")
    assert "in the future" in caught.value.message


@pytest.mark.rule("H1")
def test_a_cai_signed_in_9999_is_refused() -> None:
    raw = contract(signed_on="9999-12-31")
    with pytest.raises(InputRejected) as caught:
        history.open_dossier(CAI, raw, REFERENCE, SIGNED, f"cai-{raw['contract_id']}")
    assert (caught.value.rule, caught.value.field) == ("H1", "signed_on")


@pytest.mark.rule("D1")
def test_a_payload_too_large_is_refused_with_its_size() -> None:
    rule, _ = _refused(_evaluation(evaluator="x", notes=["y" * 1000] * 70))
    assert rule == "D1"
    step = send(open_().state, "language_evaluation", _evaluation(notes=["y" * 70_000]), today=DAY)
    assert step.rejection is not None and "bytes; at most 65536" in step.rejection.reason


@pytest.mark.rule("B4")
def test_whatever_the_rules_cannot_judge_is_a_recorded_rejection() -> None:
    """A date the calendar cannot count from (six months after 9999-12-31) would crash the
    rules: it is refused and recorded instead of failing the workflow task for ever."""
    before = open_(application(visa_application_date=None), today=DAY).state
    far = date(9999, 12, 31)
    step = send(before, "visa_application_filed", {"filed_on": far.isoformat()}, today=far)
    assert step.rejection is not None and step.rejection.rule == "core"
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("D1")
def test_the_state_keeps_the_last_rejections_only() -> None:
    state = feed([]).state
    for index in range(KEPT_REJECTIONS + 5):
        state = send(state, "language_evaluation", {"index": index}, today=DAY).state
    assert len(state.rejected_inputs) == KEPT_REJECTIONS
    assert state.rejected_inputs[-1].seq == state.seq


@pytest.mark.rule("core")
@pytest.mark.parametrize("day", [0, "0", 1_233_446_400, "1233446400", "2009/02/01", True])
def test_a_date_is_an_iso_date_never_a_number(day: Any) -> None:
    """`"0"` was read as 1 January 1970: a date of the contract is `YYYY-MM-DD` only."""
    with pytest.raises(ValidationError, match="must be an ISO date"):
        VisaApplicationFiled.model_validate({"filed_on": day})
    assert VisaApplicationFiled.model_validate({"filed_on": "2009-02-01"}).filed_on.day == 1


@pytest.mark.rule("core")
@pytest.mark.parametrize(
    "name",
    ["\u3164", "\u3164 \u115f", "\u2800\u2800", "Amina\u2028El Idrissi", "Amina\u2029El"],
)
def test_a_name_of_blank_letters_or_with_a_line_separator_is_refused(name: str) -> None:
    applicant = {**application()["applicant"], "full_name": name}
    with pytest.raises(ValidationError, match="full_name"):
        VisaApplicationInput.model_validate({**application(), "applicant": applicant})


@pytest.mark.rule("core")
def test_a_length_is_counted_once_normalised() -> None:
    """500 letters with their accent apart (NFD, 1,000 code points) are 500 letters."""
    decomposed = "e\u0301" * 500
    applicant = {**application()["applicant"], "full_name": decomposed}
    parsed = VisaApplicationInput.model_validate({**application(), "applicant": applicant})
    assert parsed.applicant.full_name == "\u00e9" * 500


@pytest.mark.rule("A2")
@pytest.mark.parametrize("code", ["ZZ", "AA", "QM", "XA"])
def test_a_private_use_country_code_is_refused(code: str) -> None:
    with pytest.raises(ValidationError, match="private use"):
        VisaApplicationInput.model_validate({**application(), "country_of_residence": code})
    applicant = {**application()["applicant"], "nationality": "XK"}
    VisaApplicationInput.model_validate({**application(), "applicant": applicant})

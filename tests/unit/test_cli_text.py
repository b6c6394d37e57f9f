"""The command line's tables and labels read in the operator's language (OPERATOR_LANGUAGE,
French by default); its JSON output and the values it sends stay the contract's."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scripts.cli import KINDS, Listing, listing_table, static_details, static_summary, summary_text
from scripts.schedules import SCHEDULES
from workers.codec import new_key_entry
from workers.settings import Settings, SettingsError

STATE = {
    "stage": "awaiting_visa_decision",
    "procedure": "family_reunification",
    "next_deadline": "2027-06-01",
    "deadlines": {"decision_suspension_ends": "2027-06-01", "evaluation_due": "2027-01-10"},
    "awaiting": ["visa_decision from the consulate"],
    "overdue": [],
    "rejected_inputs": [{"reason": "F3: a refusal may not cite evaluation results"}],
    "facts": [
        {
            "seq": 2,
            "name": "language_evaluation",
            "dated": "2027-01-05",
            "received_on": "2027-01-06",
        }
    ],
}
LISTING = Listing(
    workflow_id="visa-RBT-1",
    status="running",
    stage="awaiting_visa_decision",
    next_deadline=datetime(2027, 6, 1, tzinfo=UTC),
    overdue=False,
    workflow_type="VisaApplication",
)


def test_the_summary_reads_in_french_by_default() -> None:
    lines = summary_text("visa-RBT-1", STATE).splitlines()
    assert lines[:6] == [
        "dossier             visa-RBT-1",
        "étape               en attente de la décision sur le visa (F1)",
        "prochaine échéance  01/06/2027 (B4 — fin du sursis à statuer (six mois))",
        "attendu             décision sur le visa (F1), de la part du consulat",
        "en retard           -",
        "entrées rejetées    1 (dernière : F3: a refusal may not cite evaluation results)",
    ]
    assert lines[-1] == "  #2  05/01/2027  évaluation linguistique (D1)  (reçu le 06/01/2027)"


def test_the_summary_reads_in_english_on_request() -> None:
    text = summary_text("visa-RBT-1", STATE, "en")
    assert "stage            awaiting the visa decision (F1)" in text
    assert "next deadline    2027-06-01 (B4 — end of the sursis à statuer (six months))" in text
    assert "  #2  2027-01-05  language evaluation (D1)  (received 2027-01-06)" in text


def test_the_list_names_its_columns_and_stages_in_the_operators_language() -> None:
    assert listing_table([LISTING]).splitlines() == [
        "ID DU WORKFLOW  STATUT    ÉTAPE DU DOSSIER                            "
        "PROCHAINE ÉCHÉANCE  EN RETARD",
        "visa-RBT-1      en cours  en attente de la décision sur le visa (F1)  "
        "01/06/2027          non",
    ]
    english = listing_table([LISTING], "en").splitlines()
    assert english[0].split("  ")[0] == "WORKFLOW ID"
    assert "awaiting the visa decision (F1)" in english[1] and "2027-06-01" in english[1]


def test_the_web_uis_fixed_texts_follow_the_language() -> None:
    visa = KINDS["visa"]
    application = {
        "application_id": "RBT-1",
        "procedure": "family_reunification",
        "consulate": "Rabat",
        "country_of_residence": "MA",
        "complete_file_date": "2027-01-10",
    }
    # Codes in words, in the summary as in the details (search attributes keep the codes).
    assert static_summary(visa, application) == "Visa · regroupement familial · Rabat (MA) · RBT-1"
    assert "- Dossier complet (B1) : 10/01/2027" in static_details(visa, application)
    assert "- Procédure : regroupement familial" in static_details(visa, application)
    assert "- Complete file (B1): 2027-01-10" in static_details(visa, application, "en")
    family = KINDS["cai-family"]
    contract = {"contract_id": "C-1", "prefecture": "Paris", "platform": "OFII Paris"}
    assert static_summary(family, contract).startswith("CAI pour la famille · Paris")
    assert static_summary(family, contract, "en").startswith("CAI for the family · Paris")


def test_the_schedules_summaries_name_their_rules_in_both_languages() -> None:
    for definition in SCHEDULES:
        for language in ("fr", "en"):
            summary = definition.schedule("q", language).action.static_summary  # type: ignore[attr-defined]
            assert summary == definition.summary.text(language)
            assert summary.endswith(")")


def test_operator_language_is_a_setting_french_by_default() -> None:
    assert Settings.from_env({}).operator_language == "fr"
    assert Settings.from_env({"OPERATOR_LANGUAGE": "EN"}).operator_language == "en"
    with pytest.raises(SettingsError, match="OPERATOR_LANGUAGE='de'"):
        Settings.from_env({"OPERATOR_LANGUAGE": "de"})


def test_the_cli_follows_the_conventions_of_command_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--version`; 2 is a usage error and 3 a rejection; a service out of reach is one
    line naming the variable to set, never a traceback or the Rust client's debug output."""
    from scripts import cli

    with pytest.raises(SystemExit) as shown:
        cli.main(["--version"])
    assert shown.value.code == 0 and capsys.readouterr().out.startswith("dossiers ")
    with pytest.raises(SystemExit) as usage:
        cli.main(["bogus"])
    assert usage.value.code == cli.EXIT_USAGE == 2
    assert cli.EXIT_REJECTED == 3
    monkeypatch.setenv("PAYLOAD_KEYS", new_key_entry("k"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    assert cli.main(["verify", "RBT-1", "AAAA-BBBB-CCCC"]) == cli.EXIT_ERROR
    [line] = _errors(capsys.readouterr().err)
    assert line.startswith("error: cannot reach the register") and "DATABASE_URL" in line
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    assert cli.main(["show", "visa-RBT-1"]) == cli.EXIT_ERROR
    [line] = _errors(capsys.readouterr().err)
    assert "cannot reach Temporal at 127.0.0.1:9" in line and "TEMPORAL_ADDRESS" in line
    assert "tonic" not in line


def _errors(stderr: str) -> list[str]:
    """The CLI's own error lines (the SDK's core may log warnings beside them)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_the_operators_language_is_the_option_then_the_environment_then_french() -> None:
    from scripts.cli_output import operator_language

    default = Settings.from_env({})
    assert operator_language(None, default, {}) == "fr"
    assert operator_language(None, default, {"LANG": "en_GB.UTF-8"}) == "en"
    assert operator_language(None, default, {"LANG": "C.UTF-8"}) == "fr"
    assert operator_language(None, default, {"LANG": "de_DE.UTF-8"}) == "fr"
    french = Settings.from_env({"OPERATOR_LANGUAGE": "fr"})
    assert operator_language(None, french, {"LANG": "en_US.UTF-8"}) == "fr"
    assert operator_language(None, french, {"DOSSIERS_LANG": "EN"}) == "en"
    assert operator_language("fr", french, {"DOSSIERS_LANG": "en"}) == "fr"
    with pytest.raises(ValueError, match="DOSSIERS_LANG='de'"):
        operator_language(None, default, {"DOSSIERS_LANG": "de"})


def test_payloads_come_from_a_file_stdin_or_inline_and_json_means_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scripts import cli

    payload = {"evaluated_on": "2009-02-20", "oral_score": 30}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    for option in ("-i", "--input", "--file"):
        args = cli.parse_arguments(["send", "visa-RBT-1", "language_evaluation", option, str(path)])
        assert cli._command_input(args) == payload and not args.as_json
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(payload)))
    args = cli.parse_arguments(["send", "visa-RBT-1", "language_evaluation", "-i", "-", "--json"])
    assert cli._command_input(args) == payload and args.as_json
    args = cli.parse_arguments(["send", "visa-RBT-1", "ev", "--data", '{"a": 1}', "--lang", "en"])
    assert cli._command_input(args) == {"a": 1} and args.lang == "en"
    # Written as before `--json` meant JSON output: a usage error saying what to write now.
    with pytest.raises(SystemExit) as usage:
        cli.parse_arguments(["send", "visa-RBT-1", "ev", "--json", '{"a": 1}'])
    assert usage.value.code == cli.EXIT_USAGE
    assert "--data JSON or -i FILE.json" in capsys.readouterr().err
    for command in (["show", "visa-1"], ["list"], ["notifications"], ["verify", "R", "C"]):
        assert cli.parse_arguments([*command, "--json"]).as_json


def test_no_payload_keys_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts import cli

    monkeypatch.delenv("PAYLOAD_KEYS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    assert cli.main(["show", "visa-RBT-1"]) == cli.EXIT_ERROR
    [line] = _errors(capsys.readouterr().err)
    assert line.startswith("error: no payload keys:") and "PAYLOAD_KEYS" in line
    assert "Temporal" not in line


def test_the_list_in_json_keeps_the_contracts_names() -> None:
    from scripts.cli import listing_json

    assert listing_json([LISTING]) == [
        {
            "workflow_id": "visa-RBT-1",
            "workflow_type": "VisaApplication",
            "status": "running",
            "DossierStage": "awaiting_visa_decision",
            "NextDeadline": "2027-06-01T00:00:00+00:00",
            "Overdue": False,
        }
    ]


async def test_a_codec_server_out_of_reach_is_one_line_naming_the_variable() -> None:
    from temporalio.api.common.v1 import Payload

    from scripts.cli_codec import RemoteCodec
    from scripts.cli_errors import CommandError
    from scripts.ports import free_port

    codec = RemoteCodec(f"http://127.0.0.1:{free_port()}", "default", "token")
    with pytest.raises(CommandError, match=r"cannot reach the codec server at .*TEMPORAL_CODEC_"):
        await codec.encode([Payload(data=b"{}")])

"""What every `dossiers` command prints, as command lines do: words for a person by default,
in the operator's language, and `--json` for a program (the contract's codes and fields,
never translated). Apart from the CLI so that its sub-modules use it too."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from models.operator_text import DEFAULT_LANGUAGE, Language
from workers.settings import Settings

LANGUAGES: tuple[str, ...] = get_args(Language)


@dataclass(frozen=True)
class Output:
    """A command's result: `data` for `--json`, `text` for a person."""

    data: Any
    text: str


def output_options() -> argparse.ArgumentParser:
    """The options of every command that prints data (`parents=` of its parser)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--json",
        action="store_true",
        dest="as_json",
        help="print JSON for a program (the contract's codes), not text for a person",
    )
    language_option(options, default=argparse.SUPPRESS)
    return options


def language_option(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=default,
        help="the language of the text: fr or en (default: DOSSIERS_LANG, "
        "OPERATOR_LANGUAGE, then LANG; French otherwise)",
    )


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def render(args: argparse.Namespace, output: Output) -> str:
    return to_json(output.data) if getattr(args, "as_json", False) else output.text


def operator_language(
    chosen: str | None, settings: Settings, environ: Mapping[str, str] | None = None
) -> Language:
    """`--lang`, else DOSSIERS_LANG, else OPERATOR_LANGUAGE (the worker's setting), else the
    locale's LANG when it is French or English, else French. Raises ValueError naming a
    variable whose value is neither."""
    if chosen is not None:
        return _language(chosen)
    env = os.environ if environ is None else environ
    if env.get("DOSSIERS_LANG"):
        try:
            return _language(env["DOSSIERS_LANG"].strip().lower())
        except ValueError:
            raise ValueError(
                f"DOSSIERS_LANG={env['DOSSIERS_LANG']!r}: one of {', '.join(LANGUAGES)}"
            ) from None
    if "operator_language" in settings.model_fields_set:
        return settings.operator_language
    locale = env.get("LC_ALL") or env.get("LANG") or ""
    prefix = locale.split("_")[0].split(".")[0].lower()
    return _language(prefix) if prefix in LANGUAGES else DEFAULT_LANGUAGE


def _language(value: str) -> Language:
    for language in LANGUAGES:
        if value == language:
            return language  # type: ignore[return-value]
    raise ValueError(f"{value!r}: one of {', '.join(LANGUAGES)}")

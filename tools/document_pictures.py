"""Pictures of a sample letter, the invitation (A4), in each language it is written in, so
that a reader of the repository sees what an applicant receives.

    python -m tools.document_pictures [--out docs/letters]

The applicant is fictional; the verification code is computed with a sample secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

import examples
from activities.documents import render_pdf
from models.documents import compose, template_languages, verification_code

# The invitation of the tests' documents (tests/unit/document_samples.py).
INVITATION = examples.load("documents/invitation")
SAMPLE: dict[str, Any] = INVITATION["payload"]
WORKFLOW_ID, KEY = str(INVITATION["workflow_id"]), str(INVITATION["key"])
SCALE = 1.5  # 108 dots per inch: the page reads on a screen


def render(out: Path) -> list[Path]:
    """One PNG per language of the invitation; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    code = verification_code(WORKFLOW_ID, KEY, b"sample secret, not the register's")
    written = []
    for language in sorted(template_languages("invitation")):
        composed = compose(
            "invitation",
            SAMPLE,
            language,
            reference=str(SAMPLE["application_id"]),
            rule=str(SAMPLE["rule"]),
            issued_on=date(2009, 1, 12),
            verification_code=code,
        )
        document = pdfium.PdfDocument(render_pdf(composed))
        try:
            path = out / f"invitation-{language}.png"
            document[0].render(scale=SCALE).to_pil().save(path, optimize=True)
            written.append(path)
        finally:
            document.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.document_pictures", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/letters"))
    args = parser.parse_args(argv)
    for path in render(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pictures of the sample letters (`examples/documents/letters.json`), each kind in French
and Arabic and the invitation (A4) in every language it is written in, so that a reader
of the repository sees what an applicant receives.

    python -m tools.document_pictures [--out docs/letters]

The applicants are fictional; the verification codes are computed with a sample secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium

from activities.documents import render_pdf
from activities.sample_letters import compose_sample, samples
from models.documents import template_languages

SCALE = 1.5  # 108 dots per inch: the page reads on a screen
LANGUAGES = ("fr", "ar")  # every kind; the invitation in all its languages
SECRET = b"sample secret, not the register's"


def render(out: Path) -> list[Path]:
    """One PNG per letter kind and language (of its first page); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in samples():
        kind = sample["kind"]
        languages = template_languages(kind) if kind == "invitation" else LANGUAGES
        for language in sorted(languages):
            composed = compose_sample(sample, language, issued_on=date(2009, 1, 12), secret=SECRET)
            document = pdfium.PdfDocument(render_pdf(composed))
            try:
                path = out / f"{kind}-{language}.png"
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

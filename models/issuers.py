"""Who signs a letter, and where the applicant reaches them (docs/contract.md, "Letters that
can be posted"): per body, as the dossiers name it (an OFII representation, a delegated
organisation, a platform in France, a training provider, a prefecture), its postal
address, telephone, e-mail, opening hours and the title of its signatory, in the reference
data (`issuers`), which an operator's override may extend body by body.

French puts an article before most bodies' names and elides it before a vowel
("l'OFII Rabat", "à l'OFII Paris", "l'Institut français de Rabat"): each body says its
article, and a template asks for the form it needs (`{platform:to}`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

HEADQUARTERS = "OFII"  # whose block a letter bears when its body has none of its own
FRENCH = "fr"
Article = Literal["l'", "le ", "la ", "les ", ""]
# The forms of a name a French template asks for (`{name:the}`…), by its article.
_FORMS: dict[str, dict[Article, str]] = {
    "the": {"l'": "l'", "le ": "le ", "la ": "la ", "les ": "les ", "": ""},
    "to": {"l'": "à l'", "le ": "au ", "la ": "à la ", "les ": "aux ", "": "à "},
    "of": {"l'": "de l'", "le ": "du ", "la ": "de la ", "les ": "des ", "": "de "},
}
NAME_FORMS = frozenset({*_FORMS, *(form.capitalize() for form in _FORMS)})


class Issuer(BaseModel):
    """One body's block on its letters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    article: Article = ""  # French: "l'" before "OFII Rabat", "" before "Campus France"
    # The postal lines, the body's own line first (a convocation's place is the others),
    # the city's line included.
    address: list[str] = Field(min_length=2, max_length=6)
    city: str  # the place of the place-and-date line
    phone: str
    email: str
    hours: dict[str, str]  # the opening hours, per language (French at least)
    signatory: dict[str, str]  # the signatory's title, per language (French at least)

    @model_validator(mode="after")
    def _french_at_least(self) -> Issuer:
        for field in ("hours", "signatory"):
            if FRENCH not in getattr(self, field):
                raise ValueError(f"{field}: give the French ('fr') at least")
        return self

    @property
    def place(self) -> str:
        """Where the body receives: its address without its own name's line."""
        return ", ".join(self.address[1:])

    def said_in(self, field: Literal["hours", "signatory"], language: str) -> str:
        said: dict[str, str] = getattr(self, field)
        return said.get(language, said[FRENCH])


def name_form(name: str, form: str, article: Article) -> str:
    """`name` as French writes it where the template asks for `form` (see NAME_FORMS):
    `name_form("OFII Paris", "to", "l'")` is "à l'OFII Paris"; "The" starts a sentence."""
    written = _FORMS[form.lower()][article] + name
    return written[:1].upper() + written[1:] if form[:1].isupper() else written

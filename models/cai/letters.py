"""The CAI's notices: what every one of them says, in the signatory's language (A4)."""

from __future__ import annotations

from typing import Any

from models.cai.state import CaiState
from models.common import NotificationDue, Recipient
from models.notifications import Kind


def note(
    state: CaiState, kind: Kind, recipient: Recipient, rule: str, **payload: Any
) -> NotificationDue:
    base: dict[str, Any] = {
        "contract_id": state.contract_id,
        "prefecture": state.input.prefecture,
        "platform": state.input.platform,
    }
    language = None
    if recipient == Recipient.APPLICANT:
        language = state.letter_language
        base["full_name"] = state.input.signatory.full_name
        base["language_fallback"] = state.letter_language_fallback
    return NotificationDue(
        kind=kind, recipient=recipient, rule=rule, language=language, payload={**base, **payload}
    )

"""Retention empties the outboxes of an erased dossier's files, the mail room's batches
included: a letter waiting to be posted names a person and their address."""

from __future__ import annotations

import json
from pathlib import Path

from activities.delivery import MAIL_ROOM, erase_from_outboxes, outbox_dossiers


def _letter(outbox: Path, workflow_id: str, key: str) -> Path:
    batch = outbox / MAIL_ROOM / "ofii" / "2009-03-01"
    batch.mkdir(parents=True, exist_ok=True)
    stem = f"{workflow_id}.{key}"
    (batch / f"{stem}.manifest.json").write_text(json.dumps({"workflow_id": workflow_id}))
    (batch / f"{stem}.pdf").write_bytes(b"%PDF Amina El Idrissi")
    return batch


def test_an_erased_dossiers_letters_leave_the_mail_room_and_the_others_stay(
    tmp_path: Path,
) -> None:
    key = "000001.invitation.applicant"  # the same key in every dossier
    batch = _letter(tmp_path, "visa-RBT-1", key)
    _letter(tmp_path, "visa-RBT-2", key)
    (tmp_path / "consulate" / "visa-RBT-1").mkdir(parents=True)
    assert outbox_dossiers([tmp_path]) == {"visa-RBT-1", "visa-RBT-2"}
    assert erase_from_outboxes([tmp_path], ["visa-RBT-1"]) == 2
    assert sorted(path.name for path in batch.iterdir()) == [
        f"visa-RBT-2.{key}.manifest.json",
        f"visa-RBT-2.{key}.pdf",
    ]
    assert not (tmp_path / "consulate" / "visa-RBT-1").exists()

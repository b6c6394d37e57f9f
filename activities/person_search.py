"""The hashes a dossier is found by (`PersonKeys`): the one place that holds the key.

The workflow cannot hold a secret (its history and its code are readable by whoever reads
the namespace), so it hands the people its input names to this activity and keeps what it
returns: keyed hashes, which name nobody without the key (models/person_search.py).
"""

from __future__ import annotations

from temporalio import activity

from models.person_search import Identity, identity_keys


class PersonSearchActivities:
    """Holds PERSON_SEARCH_KEY; None (the benchmark's worker) gives no dossier a key."""

    def __init__(self, secret: bytes | None) -> None:
        self._secret = secret

    @activity.defn(name="person_keys")
    async def person_keys(self, people: list[Identity]) -> list[str]:
        """The `PersonKeys` of a dossier about `people`; run as a local activity."""
        if self._secret is None:
            return []
        return identity_keys(self._secret, people)

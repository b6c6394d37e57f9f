"""The custom search attributes of the contract.

They are stored unencrypted by Temporal, so none of them ever carries personal data.
"""

from typing import Any

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

PROCEDURE = SearchAttributeKey.for_keyword("DossierProcedure")
COUNTRY_OF_RESIDENCE = SearchAttributeKey.for_keyword("CountryOfResidence")
CONSULATE = SearchAttributeKey.for_keyword("Consulate")
RESPONSIBLE_BODY = SearchAttributeKey.for_keyword("ResponsibleBody")
DOSSIER_STAGE = SearchAttributeKey.for_keyword("DossierStage")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
TRAINING_PRESCRIBED = SearchAttributeKey.for_bool("TrainingPrescribed")
# Notifications of the dossier not yet taken by their recipient (delivery running or refused).
UNDELIVERED = SearchAttributeKey.for_int("UndeliveredNotifications")
# The rules whose delay passed with its obligation outstanding (`OverdueRules = "B7"`).
OVERDUE_RULES = SearchAttributeKey.for_keyword_list("OverdueRules")
# Keyed hashes of the people the dossier is about (models/person_search.py): no personal
# data without the key, which only the workers and the operators' command hold.
PERSON_KEYS = SearchAttributeKey.for_keyword_list("PersonKeys")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    PROCEDURE,
    COUNTRY_OF_RESIDENCE,
    CONSULATE,
    RESPONSIBLE_BODY,
    DOSSIER_STAGE,
    NEXT_DEADLINE,
    OVERDUE,
    TRAINING_PRESCRIBED,
    UNDELIVERED,
    OVERDUE_RULES,
    PERSON_KEYS,
)

_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.INT: "Int",
}


def cli_definitions() -> list[str]:
    """`Name=Type` pairs, as `temporal server start-dev --search-attribute` takes them."""
    return [f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}" for key in ALL_KEYS]

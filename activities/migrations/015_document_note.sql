-- A document made otherwise than asked (docs/contract.md, "Letters that can be posted"): a
-- name in a script that no shipped font draws is left out of the letter, which prints the
-- travel document's Latin name, and the notification says so, so that an agent can add the
-- name by hand. Never a person's data: the reason only.
ALTER TABLE notification ADD COLUMN document_note text;
GRANT UPDATE (document_note) ON notification TO register_writer;

-- Letters and attestations (docs/contract.md, "Delivery"): each document is
-- kept once, by the SHA-256 of its bytes, which the database checks; its notification names
-- it. The worker's role may add documents and name one on a notification, never rewrite a
-- document (006: least privilege); retention erases a closed dossier's documents and keeps
-- their digests (scripts/retention.py).
CREATE TABLE document (
    sha256     text PRIMARY KEY CHECK (sha256 = encode(sha256(content), 'hex')),
    content    bytea NOT NULL,
    media_type text NOT NULL DEFAULT 'application/pdf',
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE notification ADD COLUMN document_sha256 text;
REVOKE ALL ON document FROM PUBLIC;
GRANT SELECT, INSERT ON document TO register_writer;
GRANT UPDATE (document_sha256) ON notification TO register_writer;

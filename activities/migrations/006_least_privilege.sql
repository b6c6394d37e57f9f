-- Least privilege (docs/contract.md, "Sealed payloads"): the worker's role may append
-- to the audit trail but never rewrite it. `dossier_event` and `notification` take INSERT
-- only, but for `notification.delivered_at`; the projection and the seats are the
-- worker's to keep. Migrations and the retention command run as the owner.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'register_writer') THEN
        CREATE ROLE register_writer NOLOGIN;
    END IF;
END
$$;
REVOKE ALL ON dossier, dossier_event, notification, session_seat, schema_migration FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO register_writer;
GRANT SELECT ON schema_migration TO register_writer;
GRANT SELECT, INSERT ON dossier_event TO register_writer;
GRANT SELECT, INSERT ON notification TO register_writer;
GRANT UPDATE (delivered_at) ON notification TO register_writer;
GRANT SELECT, INSERT, UPDATE ON dossier TO register_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON session_seat TO register_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO register_writer;
-- Retention (scripts/retention.py): when a closed dossier's personal data was erased.
ALTER TABLE dossier ADD COLUMN erased_at timestamptz;

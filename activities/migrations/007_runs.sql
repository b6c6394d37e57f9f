-- Resets: an operator may reset a dossier's workflow to an earlier point; Temporal then
-- runs a new branch from there. The register follows the branch the reset chose: every
-- row names the run that wrote it, the latest run (first seen last) owns the projection,
-- and rows of a branch abandoned by a reset stay, marked with the run that replaced them.
CREATE TABLE dossier_run (
    workflow_id   text NOT NULL,
    run_id        text NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (workflow_id, run_id)
);
ALTER TABLE dossier_event ADD COLUMN run_id text NOT NULL DEFAULT '';
ALTER TABLE dossier_event ADD COLUMN abandoned_by text;
ALTER TABLE dossier_event DROP CONSTRAINT dossier_event_pkey;
ALTER TABLE dossier_event ADD PRIMARY KEY (workflow_id, seq, run_id);
ALTER TABLE notification ADD COLUMN run_id text NOT NULL DEFAULT '';
ALTER TABLE notification ADD COLUMN seq integer;
ALTER TABLE notification ADD COLUMN abandoned_by text;
ALTER TABLE notification DROP CONSTRAINT notification_workflow_id_key_key;
ALTER TABLE notification ADD CONSTRAINT notification_workflow_id_key_run_key
    UNIQUE (workflow_id, key, run_id);
ALTER TABLE dossier ADD COLUMN run_id text NOT NULL DEFAULT '';
GRANT SELECT, INSERT ON dossier_run TO register_writer;
GRANT UPDATE (abandoned_by) ON dossier_event TO register_writer;
GRANT UPDATE (abandoned_by) ON notification TO register_writer;
-- The contract's keys stay unique on the branch the dossier is on.
CREATE UNIQUE INDEX dossier_event_current_seq ON dossier_event (workflow_id, seq)
    WHERE abandoned_by IS NULL;
CREATE UNIQUE INDEX notification_current_key ON notification (workflow_id, key)
    WHERE abandoned_by IS NULL;

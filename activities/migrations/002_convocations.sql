-- Part II: who waits for a convocation (projected by the CAI workflows), and the seats of
-- the collective sessions the planners fill, so that nobody is convened twice to a session
-- and a full session overflows to the next.

ALTER TABLE dossier ADD COLUMN waiting jsonb NOT NULL DEFAULT '[]'::jsonb;
CREATE INDEX dossier_waiting_idx ON dossier USING gin (waiting) WHERE closed_at IS NULL;

CREATE TABLE session_seat (
    session_id   text NOT NULL,
    service      text NOT NULL,               -- skills_assessment or parents_training
    platform     text NOT NULL,
    session_on   date NOT NULL,
    workflow_id  text NOT NULL,
    person_id    text NOT NULL DEFAULT '',    -- a family signatory; '' for a CAI signatory
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, workflow_id, person_id)
);
CREATE INDEX session_seat_person_idx ON session_seat (workflow_id, person_id, session_on);

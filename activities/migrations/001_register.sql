-- The dossier register of the contract: one row per dossier, every event received,
-- every notification due. The workflow state is the truth; these tables are its
-- projection and audit trail.

CREATE TABLE dossier (
    workflow_id      text PRIMARY KEY,
    first_run_id     text NOT NULL,            -- the run that opened it: one dossier per id
    kind             text NOT NULL,            -- visa_application, cai_contract, cai_family_contract
    reference        text NOT NULL,            -- application_id or contract_id
    procedure        text,
    country          text,
    consulate        text,
    prefecture       text,
    responsible_body text,
    stage            text NOT NULL,
    outcome          jsonb,
    deadlines        jsonb NOT NULL DEFAULT '{}'::jsonb,
    next_deadline    date,
    overdue          boolean NOT NULL DEFAULT false,
    version          integer NOT NULL,         -- the workflow's event sequence: a newer write wins
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);
CREATE INDEX dossier_stage_idx ON dossier (kind, stage);
CREATE INDEX dossier_next_deadline_idx ON dossier (next_deadline) WHERE closed_at IS NULL;

CREATE TABLE dossier_event (
    workflow_id  text NOT NULL,
    seq          integer NOT NULL,
    event        text NOT NULL,
    source       text NOT NULL,                -- start, signal, update or timer
    accepted     boolean NOT NULL,
    payload      jsonb,
    reason       text,                         -- the rejection, naming the field and the rule
    received_at  timestamptz NOT NULL,         -- workflow time
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, seq)
);

CREATE TABLE notification (
    id           bigserial PRIMARY KEY,
    workflow_id  text NOT NULL,
    key          text NOT NULL,
    recipient    text NOT NULL,
    kind         text NOT NULL,
    language     text,                         -- letters to the applicant: a language they understand (A4)
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (workflow_id, key)
);
CREATE INDEX notification_undelivered_idx ON notification (recipient, created_at)
    WHERE delivered_at IS NULL;

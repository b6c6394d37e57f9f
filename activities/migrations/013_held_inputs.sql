-- Held facts (docs/contract.md, "Events"): an input that rests on a fact not on file yet is
-- held, not refused. Its row is accepted, with status 'held'; the step that places it in
-- event time lists it in `placed`, and a step that refuses it later (what came made it
-- inadmissible, or the dossier closed) lists it in `refused_held` with its reason. The
-- rows stay insert-only: a held input's fate is read from the steps that follow it.
ALTER TABLE dossier_event ADD COLUMN status text;
ALTER TABLE dossier_event ADD COLUMN placed integer[];
ALTER TABLE dossier_event ADD COLUMN refused_held jsonb;
UPDATE dossier_event SET status = CASE WHEN accepted THEN 'accepted' ELSE 'rejected' END;

-- Least privilege for real (docs/production.md, "Personal data in production"): the
-- worker's role keeps the projection and nothing else. It could update every column of
-- `dossier` (`erased_at`: retention would skip a dossier; `closed_at`: a dossier reopened
-- escapes retention) and mark any event or notification abandoned (hiding it from every
-- reader). Now it updates the projection's columns only, a closed dossier stays closed, and
-- a reset's branch is followed by a function that applies the rule, not by free UPDATEs.
REVOKE UPDATE ON dossier FROM register_writer;
GRANT UPDATE (workflow_id, procedure, country, consulate, prefecture, responsible_body, stage,
              outcome, deadlines, next_deadline, overdue, version, waiting, exemptions,
              deadlines_missed, trainings, corrections, run_id, updated_at, closed_at)
    ON dossier TO register_writer;

-- The schema's owner (maintenance, tests) may still correct it.
CREATE FUNCTION dossier_stays_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at
       AND NOT pg_has_role(current_user, (SELECT relowner FROM pg_class
                                          WHERE oid = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION 'dossier %: a closed dossier stays closed', OLD.workflow_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER dossier_stays_closed BEFORE UPDATE OF closed_at ON dossier
    FOR EACH ROW EXECUTE FUNCTION dossier_stays_closed();

REVOKE UPDATE (abandoned_by) ON dossier_event FROM register_writer;
REVOKE UPDATE (abandoned_by) ON notification FROM register_writer;

-- The rule of resets (007): the run writing step `seq` is noted; if it is the latest run
-- (first seen last), the rows other runs wrote from `seq` on belong to a branch a reset
-- abandoned and are marked so. Returns the latest run. Runs as the schema's owner, for the
-- worker's role, which may call it but not mark rows itself.
CREATE FUNCTION register_follow_branch(p_workflow_id text, p_run_id text, p_seq integer)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    latest text;
BEGIN
    INSERT INTO dossier_run (workflow_id, run_id) VALUES (p_workflow_id, p_run_id)
        ON CONFLICT DO NOTHING;
    SELECT run_id INTO latest FROM dossier_run WHERE workflow_id = p_workflow_id
        ORDER BY first_seen_at DESC, run_id DESC LIMIT 1;
    IF latest = p_run_id THEN
        UPDATE dossier_event SET abandoned_by = p_run_id
            WHERE workflow_id = p_workflow_id AND seq >= p_seq AND run_id <> p_run_id
              AND abandoned_by IS NULL;
        UPDATE notification SET abandoned_by = p_run_id
            WHERE workflow_id = p_workflow_id AND seq >= p_seq AND run_id <> p_run_id
              AND abandoned_by IS NULL;
    END IF;
    RETURN latest;
END
$$;
REVOKE ALL ON FUNCTION register_follow_branch(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION register_follow_branch(text, text, integer) TO register_writer;

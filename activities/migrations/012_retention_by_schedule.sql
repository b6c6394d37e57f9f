-- Retention that runs by itself and misses nothing (docs/production.md, "Retention"). The
-- daily `RetentionSweep` runs as the worker's role, which may rewrite nothing of the audit
-- trail (006, 011): it erases through `register_erase_expired`, which applies the rules of
-- retention and nothing else, as the schema's owner.

-- The erasure of some dossiers, in full: every input's payload and the wording of its
-- rejection (its rule stays), every notification's payload but its rule, and the wording of
-- a refused delivery (it may quote the letter), the documents no other dossier's
-- notification names (their digests stay), the seats, what the dossier waits for and its
-- outcome but the decision. The owner's alone: `scripts.retention --dossier` calls it after
-- checking the dossier is due, `register_erase_expired` on what it found due.
CREATE FUNCTION register_erase_dossiers(p_workflow_ids text[], OUT events integer,
                                        OUT notifications integer, OUT documents integer)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE dossier_event
       SET payload = '{"erased": true}'::jsonb,
           reason = NULLIF(split_part(reason, ':', 1), '')
     WHERE workflow_id = ANY(p_workflow_ids);
    GET DIAGNOSTICS events = ROW_COUNT;
    DELETE FROM document
     WHERE sha256 IN (SELECT document_sha256 FROM notification
                      WHERE workflow_id = ANY(p_workflow_ids))
       AND NOT EXISTS (SELECT FROM notification other
                       WHERE other.document_sha256 = document.sha256
                         AND NOT other.workflow_id = ANY(p_workflow_ids));
    GET DIAGNOSTICS documents = ROW_COUNT;
    UPDATE notification
       SET payload = jsonb_build_object('erased', true, 'rule', payload->'rule'),
           delivery_error = CASE WHEN delivery_error IS NOT NULL THEN 'erased' END
     WHERE workflow_id = ANY(p_workflow_ids);
    GET DIAGNOSTICS notifications = ROW_COUNT;
    DELETE FROM session_seat WHERE workflow_id = ANY(p_workflow_ids);
    UPDATE dossier
       SET erased_at = now(), waiting = '[]'::jsonb,
           outcome = CASE WHEN outcome IS NULL THEN NULL
                          ELSE jsonb_build_object('decision', outcome->'decision') END
     WHERE workflow_id = ANY(p_workflow_ids);
END
$$;
REVOKE ALL ON FUNCTION register_erase_dossiers(text[]) FROM PUBLIC;

-- What is due, each category counted from its own date:
--   closed dossiers, `retention_days` after `closed_at`;
--   dossiers never closed (terminated, failed, abandoned), `max_open_days` after their last
--   activity (the projection's last write, the last input recorded), erased as if closed;
--   rejected starts of a dossier that never opened (no accepted start: the seq 0 row holds
--   the whole application), `retention_days` after `received_at`.
-- One row per dossier erased, naming why; a period shorter than a year is refused, so that
-- the worker's role cannot erase a dossier in use by passing a short one.
CREATE FUNCTION register_erase_expired(retention_days integer, max_open_days integer)
RETURNS TABLE (workflow_id text, cause text, events integer, notifications integer,
               documents integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    closed_ids text[];
    open_ids text[];
    due_id text;
    erased record;
BEGIN
    IF retention_days IS NULL OR retention_days < 365 THEN
        RAISE EXCEPTION 'retention_days must be at least 365, not %', retention_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_open_days IS NULL OR max_open_days < retention_days THEN
        RAISE EXCEPTION 'max_open_days (%) must not be shorter than retention_days (%)',
            max_open_days, retention_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(d.workflow_id ORDER BY d.workflow_id) INTO closed_ids FROM (
        SELECT dossier.workflow_id FROM dossier
         WHERE dossier.erased_at IS NULL AND dossier.closed_at IS NOT NULL
           AND dossier.closed_at < now() - make_interval(days => retention_days)
         ORDER BY dossier.workflow_id FOR UPDATE) d;
    SELECT array_agg(d.workflow_id ORDER BY d.workflow_id) INTO open_ids FROM (
        SELECT dossier.workflow_id FROM dossier
         WHERE dossier.erased_at IS NULL AND dossier.closed_at IS NULL
           AND dossier.updated_at < now() - make_interval(days => max_open_days)
           AND NOT EXISTS (
               SELECT FROM dossier_event e
                WHERE e.workflow_id = dossier.workflow_id
                  AND greatest(e.received_at, e.recorded_at)
                      >= now() - make_interval(days => max_open_days))
         ORDER BY dossier.workflow_id FOR UPDATE) d;
    FOREACH due_id IN ARRAY coalesce(closed_ids, '{}') LOOP
        erased := register_erase_dossiers(ARRAY[due_id]);
        RETURN QUERY SELECT due_id, 'closed', erased.events, erased.notifications,
                            erased.documents;
    END LOOP;
    FOREACH due_id IN ARRAY coalesce(open_ids, '{}') LOOP
        erased := register_erase_dossiers(ARRAY[due_id]);
        RETURN QUERY SELECT due_id, 'never_closed', erased.events, erased.notifications,
                            erased.documents;
    END LOOP;
    RETURN QUERY
        WITH rejected AS (
            UPDATE dossier_event r
               SET payload = '{"erased": true}'::jsonb,
                   reason = NULLIF(split_part(r.reason, ':', 1), '')
             WHERE r.seq = 0 AND NOT r.accepted
               AND r.received_at < now() - make_interval(days => retention_days)
               AND r.payload IS DISTINCT FROM '{"erased": true}'::jsonb
               AND NOT EXISTS (SELECT FROM dossier_event s
                                WHERE s.workflow_id = r.workflow_id
                                  AND s.event = 'start' AND s.accepted)
            RETURNING r.workflow_id)
        SELECT rejected.workflow_id, 'rejected_start', count(*)::integer, 0, 0
          FROM rejected GROUP BY rejected.workflow_id ORDER BY rejected.workflow_id;
END
$$;
REVOKE ALL ON FUNCTION register_erase_expired(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION register_erase_expired(integer, integer) TO register_writer;

-- Per-dossier data keys (docs/production.md, "Personal data is sealed"): each dossier's
-- payloads in Temporal are sealed with a random key of its own, kept here wrapped by the
-- master key (PAYLOAD_KEYS, AES-256-GCM; `key_id` names the master key that wrapped it).
-- Retention destroys it (crypto-erasure): the row stays, without its key, so that no key is
-- ever made again for an erased dossier and its history, archives included, stays sealed.
CREATE TABLE dossier_key (
    workflow_id text PRIMARY KEY,
    key_id      text,
    wrapped     bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    CONSTRAINT dossier_key_held_or_erased
        CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL) AND (key_id IS NULL) = (wrapped IS NULL))
);

-- Least privilege (006, 011): the worker's role reads keys and adds the key of a new
-- dossier; it may neither replace nor destroy one. Rewrapping under a new master key
-- (`python -m scripts.data_keys rewrap`) and erasure run as the schema's owner.
REVOKE ALL ON dossier_key FROM PUBLIC;
GRANT SELECT ON dossier_key TO register_writer;
GRANT INSERT (workflow_id, key_id, wrapped) ON dossier_key TO register_writer;

-- Erasing a dossier's personal data destroys its key, whichever way it is erased: a
-- dossier (`register_erase_dossiers` sets `erased_at`), a rejected start of a dossier that
-- never opened (`register_erase_expired` empties its payload). Only the owner's functions
-- write those columns, so only retention destroys a key.
CREATE FUNCTION dossier_key_erase() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dossier_key (workflow_id, erased_at) VALUES (NEW.workflow_id, now())
        ON CONFLICT (workflow_id) DO UPDATE
        SET key_id = NULL, wrapped = NULL,
            erased_at = coalesce(dossier_key.erased_at, excluded.erased_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_key_erased AFTER UPDATE OF erased_at ON dossier
    FOR EACH ROW WHEN (NEW.erased_at IS NOT NULL) EXECUTE FUNCTION dossier_key_erase();
CREATE TRIGGER dossier_key_erased AFTER UPDATE OF payload ON dossier_event
    FOR EACH ROW WHEN (NEW.payload = '{"erased": true}'::jsonb)
    EXECUTE FUNCTION dossier_key_erase();

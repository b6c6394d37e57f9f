-- Metrics (docs/production.md, "Read the metrics"): a rejected input names the rule that refused it, so
-- that rejections are counted by rule without parsing their reasons. Every reason is written
-- as "<rule>: <field>: <message>" (models/errors.py, InputRejected), so the rows written
-- before this column take the rule the reason begins with.
ALTER TABLE dossier_event ADD COLUMN rule text;
UPDATE dossier_event
   SET rule = substring(reason FROM '^([A-Za-z][A-Za-z0-9_.-]*): ')
 WHERE NOT accepted AND reason IS NOT NULL;
-- The metrics count rejections by rule and overdue dossiers by authority every
-- METRICS_INTERVAL seconds, on every worker: both read a small part of a large table.
CREATE INDEX dossier_event_rejected_rule ON dossier_event (rule)
    WHERE NOT accepted AND abandoned_by IS NULL;
CREATE INDEX dossier_overdue_body ON dossier (kind, responsible_body)
    WHERE overdue AND closed_at IS NULL;

-- Facts are judged in event time and can be corrected (docs/rules.md, "Readings where rules
-- meet"): a correction is a row of its own pointing at the event it corrects, and the
-- report counts what the dossier holds after every correction, not what was once said.
ALTER TABLE dossier_event ADD COLUMN corrects integer;
ALTER TABLE dossier ADD COLUMN deadlines_missed jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE dossier ADD COLUMN trainings jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE dossier ADD COLUMN corrections integer NOT NULL DEFAULT 0;

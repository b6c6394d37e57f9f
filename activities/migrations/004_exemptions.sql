-- What each dossier is exempted from (C1, C2, H2), for the ministry's report (J1).
ALTER TABLE dossier ADD COLUMN exemptions jsonb NOT NULL DEFAULT '[]'::jsonb;

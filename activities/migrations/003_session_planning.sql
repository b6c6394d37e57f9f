-- The planning run that booked each seat: a retried `plan_sessions` activity recomputes the
-- same run's seats instead of booking a second seat for the same person.

ALTER TABLE session_seat ADD COLUMN planned_by text;
CREATE INDEX session_seat_planned_by_idx ON session_seat (planned_by);

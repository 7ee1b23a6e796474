-- What the session list shows: when each session was last used (login, every refresh)
-- and the client it was opened from (User-Agent, at most 255 characters, and address).
ALTER TABLE sessions ADD COLUMN last_used_at TIMESTAMPTZ;
UPDATE sessions SET last_used_at = updated_at;
ALTER TABLE sessions ALTER COLUMN last_used_at SET NOT NULL;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
CREATE INDEX sessions_user_last_used_idx ON sessions (user_id, last_used_at, id);

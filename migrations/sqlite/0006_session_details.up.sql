-- What the session list shows: when each session was last used (login, every refresh)
-- and the client it was opened from (User-Agent, at most 255 characters, and address).
-- SQLite cannot add a NOT NULL column without a default: every row gets one at once.
ALTER TABLE sessions ADD COLUMN last_used_at TEXT NOT NULL DEFAULT '';
UPDATE sessions SET last_used_at = updated_at;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
CREATE INDEX sessions_user_last_used_idx ON sessions (user_id, last_used_at, id);

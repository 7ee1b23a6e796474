-- Credentials version: bumped by every change of a user's credentials (password change,
-- password reset). A session records the version its login verified; a session whose
-- version is not the user's current one is dead (security rule "credentials version").
ALTER TABLE users ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 1;

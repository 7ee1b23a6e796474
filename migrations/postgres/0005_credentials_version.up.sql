-- Credentials version: bumped by every change of a user's credentials (password change,
-- password reset). A session records the version its login verified; a session whose
-- version is not the user's current one is dead, whatever the interleaving of the
-- login with the change (security rule "credentials version").
ALTER TABLE users ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 1;

-- Every instance's session cache forgets the user's sessions when the version moves.
DROP TRIGGER users_notify_auth ON users;
CREATE TRIGGER users_notify_auth AFTER UPDATE OF is_active, credentials_version OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION todo_api_notify_auth();

DROP TRIGGER users_notify_auth ON users;
CREATE TRIGGER users_notify_auth AFTER UPDATE OF is_active OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION todo_api_notify_auth();
ALTER TABLE sessions DROP COLUMN credentials_version;
ALTER TABLE users DROP COLUMN credentials_version;

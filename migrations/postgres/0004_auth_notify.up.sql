-- Every instance caches the sessions it has checked; these triggers tell all of them
-- (LISTEN todo_api_auth) when a session or a user stops being valid, however the row
-- changed: logout, password change, refresh-token reuse, an operator's UPDATE or DELETE.
-- Payloads: `session:<id>` or `user:<id>`.
CREATE FUNCTION todo_api_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify('todo_api_auth', 'session:' || OLD.id);
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('todo_api_auth', 'user:' || OLD.id);
    ELSE
        PERFORM pg_notify('todo_api_auth', 'user:' || NEW.user_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_notify_auth AFTER UPDATE OF revoked_at OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION todo_api_notify_auth();
CREATE TRIGGER users_notify_auth AFTER UPDATE OF is_active OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION todo_api_notify_auth();
CREATE TRIGGER revoked_tokens_notify_auth AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION todo_api_notify_auth();

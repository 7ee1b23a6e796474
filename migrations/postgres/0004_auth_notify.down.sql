DROP TRIGGER revoked_tokens_notify_auth ON revoked_tokens;
DROP TRIGGER users_notify_auth ON users;
DROP TRIGGER sessions_notify_auth ON sessions;
DROP FUNCTION todo_api_notify_auth();

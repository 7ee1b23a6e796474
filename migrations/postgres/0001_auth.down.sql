DROP TABLE revoked_tokens;
DROP TABLE sessions;
DROP TABLE users;

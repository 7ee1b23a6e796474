-- Users of an external issuer (a frontend's auth server: Better Auth, any OIDC provider),
-- keyed by (issuer, subject). They have no password: their password_hash is a marker no
-- hash verifies. Their email is the issuer's claim (empty when it sends none) and is
-- never an account key: only local accounts are unique by email, so an external user
-- can never be matched to a local account by address, nor log in with a password.
ALTER TABLE users ADD COLUMN external_issuer TEXT;
ALTER TABLE users ADD COLUMN external_subject TEXT;
CREATE UNIQUE INDEX users_external_key ON users (external_issuer, external_subject);
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE external_issuer IS NULL;

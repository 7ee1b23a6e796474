-- External users cannot exist without their columns (and may share addresses).
DELETE FROM users WHERE external_issuer IS NOT NULL;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
DROP INDEX users_external_key;
ALTER TABLE users DROP COLUMN external_subject;
ALTER TABLE users DROP COLUMN external_issuer;

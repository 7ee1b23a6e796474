-- Seeds the benchmark database (already migrated by `todo-api serve`).
-- psql variables: nusers, ntodos, hash (an Argon2id PHC string made by the service for
-- the shared benchmark password).
--
-- Ids are deterministic so that pgbench scripts and the wrk data can name rows without
-- a lookup table:
--   user n       00000000-0000-4000-8000-<n, 12 digits>
--   todo k of n  00000001-<k, 4 digits>-4000-8000-<n, 12 digits>
--   tag t of n   00000002-000<t>-4000-8000-<n, 12 digits>   (t = 1 work, 2 home, 3 urgent)
-- title_key and search_text follow the service (lower(title), lower(title) || '\n' ||
-- lower(description) when there is a description).
\set ON_ERROR_STOP on
BEGIN;

INSERT INTO users (id, email, name, password_hash, is_active, last_login_at, created_at, updated_at)
SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
       'bench' || n || '@example.com', 'Bench user ' || n, :'hash', TRUE, NULL,
       now() - interval '30 days', now() - interval '30 days'
  FROM generate_series(1, :nusers) AS n;

INSERT INTO todos (id, user_id, title, title_key, description, search_text, is_completed,
                   priority, due_date, completed_at, version, created_at, updated_at)
SELECT id, user_id, title, lower(title), description,
       CASE WHEN description IS NULL THEN lower(title) ELSE lower(title) || E'\n' || lower(description) END,
       done, priority, due, CASE WHEN done THEN created + interval '1 hour' END, 1, created, created
  FROM (
    SELECT ('00000001-' || lpad(k::text, 4, '0') || '-4000-8000-' || lpad(n::text, 12, '0'))::uuid AS id,
           ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid AS user_id,
           'Todo ' || k || ' of user ' || n || CASE WHEN k % 3 = 0 THEN ': Buy Milk' ELSE '' END AS title,
           CASE WHEN k % 2 = 0 THEN 'Details of todo ' || k || ' — with some Unicode: Café' END AS description,
           (k % 4 = 0) AS done,
           1 + (k % 3) AS priority,
           CASE WHEN k % 5 = 0 THEN now() + (k || ' days')::interval END AS due,
           now() - interval '20 days' + (k || ' hours')::interval + (n || ' seconds')::interval AS created
      FROM generate_series(1, :nusers) AS n, generate_series(1, :ntodos) AS k
  ) AS t;

INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at)
SELECT ('00000002-000' || t || '-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
       ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
       (ARRAY['Work', 'Home', 'Urgent'])[t], (ARRAY['work', 'home', 'urgent'])[t],
       (ARRAY['#1F77B4', NULL, '#D62728'])[t],
       now() - interval '30 days', now() - interval '30 days'
  FROM generate_series(1, :nusers) AS n, generate_series(1, 3) AS t;

-- Tags on some todos: k%4=1 work, k%4=2 home, k%5=0 urgent (about 60% have a tag).
INSERT INTO todo_tags (todo_id, tag_id)
SELECT ('00000001-' || lpad(k::text, 4, '0') || '-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
       ('00000002-000' || t || '-4000-8000-' || lpad(n::text, 12, '0'))::uuid
  FROM generate_series(1, :nusers) AS n, generate_series(1, :ntodos) AS k, generate_series(1, 3) AS t
 WHERE (t = 1 AND k % 4 = 1) OR (t = 2 AND k % 4 = 2) OR (t = 3 AND k % 5 = 0);

COMMIT;
ANALYZE;

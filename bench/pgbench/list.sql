-- Baseline for GET /api/v1/todos: one page of 20 todos of one random user, newest
-- first, with the total count (one statement, as the minimal database work for a page).
-- User n has id 00000000-0000-4000-8000-<n, 12 digits> (see bench/seed_pg.sql).
\set uid random(1, :nusers)
SELECT id, user_id, title, description, is_completed, priority, due_date, completed_at,
       version, created_at, updated_at, COUNT(*) OVER () AS total_count
  FROM todos
 WHERE user_id = ('00000000-0000-4000-8000-' || lpad(:uid::text, 12, '0'))::uuid
 ORDER BY created_at DESC NULLS LAST, id DESC
 LIMIT 20 OFFSET 0;

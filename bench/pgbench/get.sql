-- Baseline for GET /api/v1/todos/{id}: a primary-key lookup scoped to the owner.
-- Todo k of user n has id 00000001-<k, 4 digits>-4000-8000-<n, 12 digits>.
\set uid random(1, :nusers)
\set k random(1, :ntodos)
SELECT id, user_id, title, description, is_completed, priority, due_date, completed_at,
       version, created_at, updated_at
  FROM todos
 WHERE id = ('00000001-' || lpad(:k::text, 4, '0') || '-4000-8000-' || lpad(:uid::text, 12, '0'))::uuid
   AND user_id = ('00000000-0000-4000-8000-' || lpad(:uid::text, 12, '0'))::uuid;

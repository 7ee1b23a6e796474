-- Baseline for POST /api/v1/todos: one INSERT ... RETURNING for a random user.
\set uid random(1, :nusers)
INSERT INTO todos (id, user_id, title, title_key, description, search_text, is_completed,
                   priority, due_date, completed_at, version, created_at, updated_at)
VALUES (gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(:uid::text, 12, '0'))::uuid,
        'Bench todo', 'bench todo', 'Created by the benchmark',
        E'bench todo\ncreated by the benchmark', false, 2, NULL, NULL, 1, now(), now())
RETURNING id, user_id, title, description, is_completed, priority, due_date, completed_at,
          version, created_at, updated_at;

-- Todos, tags and their links. `title_key`, `search_text` and `name_key` hold Unicode
-- lower-cased copies (computed by the service) so that sorting, searching and
-- uniqueness are case-insensitive for all of Unicode on both databases.
CREATE TABLE todos (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    title_key    TEXT NOT NULL,
    description  TEXT,
    search_text  TEXT NOT NULL,
    is_completed BOOLEAN NOT NULL DEFAULT FALSE,
    priority     INTEGER NOT NULL DEFAULT 2,
    due_date     TEXT,
    completed_at TEXT,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX todos_user_created_idx ON todos (user_id, created_at, id);
CREATE INDEX todos_user_updated_idx ON todos (user_id, updated_at, id);
CREATE INDEX todos_user_completed_at_idx ON todos (user_id, completed_at, id);
CREATE INDEX todos_user_is_completed_idx ON todos (user_id, is_completed);
CREATE INDEX todos_user_priority_idx ON todos (user_id, priority, id);
CREATE INDEX todos_user_due_idx ON todos (user_id, due_date, id);
CREATE INDEX todos_user_title_idx ON todos (user_id, title_key, id);

CREATE TABLE tags (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    color      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX tags_user_name_key ON tags (user_id, name_key);

CREATE TABLE todo_tags (
    todo_id BLOB NOT NULL REFERENCES todos (id) ON DELETE CASCADE,
    tag_id  BLOB NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (todo_id, tag_id)
);
CREATE INDEX todo_tags_tag_idx ON todo_tags (tag_id, todo_id);

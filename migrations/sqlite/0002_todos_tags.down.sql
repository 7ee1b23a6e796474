DROP TABLE todo_tags;
DROP TABLE tags;
DROP TABLE todos;

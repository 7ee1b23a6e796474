-- PostgreSQL's version adds LISTEN/NOTIFY triggers for the instances' session caches.
-- SQLite serves a single instance without that cache, so there is nothing to add; the
-- migration exists to keep both backends' version numbers aligned.
SELECT 1;

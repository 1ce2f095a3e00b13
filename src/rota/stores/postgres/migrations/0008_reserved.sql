-- rota schema, version 8: reserved. Migration 8 belongs to a change made side by side
-- (results); this placeholder keeps the numbering free of duplicates and is replaced by that
-- migration when the branches merge. It changes nothing.
SELECT 1;

-- Placeholder, changing nothing: version 3 is another branch's migration,
-- and versions must run 1, 2, 3… with no gap. Delete this file when that
-- branch's 0003 is merged. (A database migrated while this file stood has
-- version 3 recorded without the real 0003 in it: make it anew.)
SELECT 1;

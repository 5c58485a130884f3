-- Every cache write checks the cache's total size against its cap. Without this index that SUM reads every
-- cached script (tens of MB at the cap); with it, SQLite sums the small covering index instead.
CREATE INDEX response_cache_size ON response_cache (size_bytes);

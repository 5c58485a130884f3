-- 0002_usage_costs_cache: what each call cost, daily usage sums for the dashboard, and the response cache.

-- USD at the price in force when the call was made; NULL when tokens were used at an unknown price.
ALTER TABLE requests ADD COLUMN cost_usd REAL;
-- 1 when the token counts are the app's estimate (a stream cut short before the provider said its usage).
ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;

-- A period's raw rows (exact percentiles, rebuilding the sums) are found by time alone.
CREATE INDEX requests_started_at ON requests (started_at);

-- One row per local day (the user's calendar day, YYYY-MM-DD), provider and model, kept in step with the
-- ledger by the store in the same transaction as each ledger row, so the dashboard never scans the ledger.
-- requests counts calls sent to the provider (failed and cancelled included); cached counts cache hits.
-- Tokens and cost are those of sent calls. Histograms are JSON {bin: count} of latency and time to first
-- token in milliseconds (log bins 5% wide; see app/store/usage.py).
CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    cost_unknown INTEGER NOT NULL DEFAULT 0,
    latency_hist TEXT NOT NULL DEFAULT '{}',
    ttft_hist TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (day, provider, model)
) WITHOUT ROWID;

-- Failed and cancelled calls per error code, same days.
CREATE TABLE usage_daily_errors (
    day TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    error_code TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, provider, model, error_code)
) WITHOUT ROWID;

-- Responses already paid for, by a hash of provider, model, system prompt, messages and parameters.
CREATE TABLE response_cache (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    size_bytes INTEGER NOT NULL
);

-- Eviction takes the least recently used first.
CREATE INDEX response_cache_last_used_at ON response_cache (last_used_at);

-- Cache hits, misses and evictions since the counters were last cleared.
CREATE TABLE cache_stats (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO cache_stats (name, value) VALUES ('hits', 0), ('misses', 0), ('evictions', 0);

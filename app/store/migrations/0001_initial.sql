-- 0001_initial: personas, the user's preferences, script history with full-text search,
-- the provider request ledger and a key/value table for settings.
-- Timestamps are ISO 8601 UTC text (2025-01-31T09:15:02.123Z), except user_preferences, which keeps the
-- seed design's datetime('now'). Ledger times are epoch seconds (REAL) for the rate limiter's windows.

-- Personas. Names are unique regardless of case, so a lookup by name is unambiguous.
CREATE TABLE system_prompts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    prompt TEXT NOT NULL,
    description TEXT,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- At most one persona carries the default flag.
CREATE UNIQUE INDEX system_prompts_single_default ON system_prompts (is_default) WHERE is_default = 1;

-- As the seed design has it. The provider list must match app.store.preferences.VALID_PROVIDERS;
-- widening it needs a table rebuild (see app/store/db.py).
CREATE TABLE user_preferences (
    id TEXT PRIMARY KEY DEFAULT 'default',
    default_voice_id TEXT,
    default_persona_id TEXT,
    default_llm_provider TEXT DEFAULT 'ollama',
    quick_production_enabled INTEGER DEFAULT 1,
    created_at TEXT DEFAULT (datetime('now')),
    updated_at TEXT DEFAULT (datetime('now')),
    FOREIGN KEY (default_persona_id) REFERENCES system_prompts(id) ON DELETE SET NULL,
    CHECK(default_llm_provider IN ('ollama', 'gemini', 'groq'))
);

-- NULL until the user chooses: the app then falls back to LLM_PROVIDER, then to 'ollama'.
INSERT INTO user_preferences (id, default_llm_provider) VALUES ('default', NULL);

-- Script history. AUTOINCREMENT so an id is never reused: undoing a delete can give the script its id back.
-- provider has no CHECK: history must keep rows from providers a later version adds or drops.
CREATE TABLE scripts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    persona_id TEXT REFERENCES system_prompts (id) ON DELETE SET NULL,
    persona_name TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'generating'
        CHECK (status IN ('complete', 'cancelled', 'failed', 'generating')),
    error_code TEXT,
    error_message TEXT,
    target_words INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    latency_ms REAL,
    time_to_first_token_ms REAL,
    finish_reason TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX scripts_created_at ON scripts (created_at);
-- Index the foreign key so deleting a persona does not scan the whole history.
CREATE INDEX scripts_persona_id ON scripts (persona_id);

-- Full-text search over topic and text. External content: the text is stored once, in scripts, and the
-- triggers keep the index in step.
CREATE VIRTUAL TABLE scripts_fts USING fts5 (
    topic,
    text,
    content = 'scripts',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER scripts_fts_after_insert AFTER INSERT ON scripts BEGIN
    INSERT INTO scripts_fts (rowid, topic, text) VALUES (new.id, new.topic, new.text);
END;

CREATE TRIGGER scripts_fts_after_delete AFTER DELETE ON scripts BEGIN
    INSERT INTO scripts_fts (scripts_fts, rowid, topic, text) VALUES ('delete', old.id, old.topic, old.text);
END;

CREATE TRIGGER scripts_fts_after_update AFTER UPDATE OF topic, text ON scripts BEGIN
    INSERT INTO scripts_fts (scripts_fts, rowid, topic, text) VALUES ('delete', old.id, old.topic, old.text);
    INSERT INTO scripts_fts (rowid, topic, text) VALUES (new.id, new.topic, new.text);
END;

-- The request ledger: one row per provider call, read back to seed the rate limiter after a restart.
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    latency_ms REAL,
    time_to_first_token_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'cancelled')),
    error_code TEXT,
    streamed INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    script_id INTEGER REFERENCES scripts (id) ON DELETE SET NULL,
    attempt INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX requests_provider_started_at ON requests (provider, started_at);
CREATE INDEX requests_provider_model_started_at ON requests (provider, model, started_at);
-- Index the foreign key so deleting a script does not scan the whole ledger.
CREATE INDEX requests_script_id ON requests (script_id);

-- Settings the Settings dialog saves (model, host, rate-limit overrides, fallback order), as JSON text.
-- Never API keys: those live in the OS keychain.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;

-- The personas shipped with the app; Educational Explainer is the default.
INSERT INTO system_prompts (id, name, description, is_default, prompt) VALUES (
    'educational-explainer',
    'Educational Explainer',
    'Clear, patient explanations that build one idea step by step, with concrete examples.',
    1,
    'You are a skilled teacher who writes scripts for educational explainer videos. Your goal is to make one idea genuinely clear to a curious viewer who is not an expert.

Write the exact words the narrator will say out loud:
- Plain spoken text only. No headings, bullet points, markdown, emojis, timestamps, scene numbers or stage directions such as [B-roll] or (pause), unless the user explicitly asks for them.
- Open with a question, a puzzle or a surprising fact that makes the viewer want the answer, then deliver on it.
- Build the idea step by step: start from what the viewer already knows, introduce one new concept at a time, and define each technical term the first time you use it.
- Use concrete examples, everyday analogies and numbers the viewer can picture. One well-developed example beats three rushed ones.
- Write for the ear: short sentences, active voice, natural contractions, and signposts like "here''s the key part" so a listener never gets lost. Avoid parentheses, footnotes and abbreviations that read badly aloud, and write numbers the way they should be spoken.
- Be accurate. If something is uncertain, debated or simplified, say so briefly rather than overstating it. Never invent statistics, quotes or sources.
- Close with a short recap of the main idea and one thought the viewer can take away.
- When a target word count is given, land within about ten percent of it.

Return only the script.'
);

INSERT INTO system_prompts (id, name, description, is_default, prompt) VALUES (
    'energetic-youtuber',
    'Energetic YouTuber',
    'An upbeat host talking straight to camera: strong hook, fast pacing, a payoff every few lines.',
    0,
    'You write scripts for an upbeat, personality-driven YouTube channel. The host talks straight to the camera, and the viewer should feel like a friend is excitedly telling them something cool.

Write only what the host says:
- Plain spoken text only. No headings, markdown, emojis, or stage directions like [cut to] or *laughs*, unless the user explicitly asks for them.
- Hook in the first two sentences with a bold claim, a surprising result or a question the viewer needs answered. No slow intro, and no "hey guys, welcome back" before the hook.
- Keep the energy up with short, punchy sentences, varied rhythm, direct address and a little humour that suits the topic. The excitement should come from the content, not from an exclamation mark on every line.
- Structure the video as a chain of payoffs: open a curiosity gap, close it, open the next. Every section has to earn the viewer''s next ten seconds.
- Stay honest: the script must deliver what the hook promises, and every fact and number must be real.
- Finish with a quick recap and one natural call to action, such as a question for the comments, never a list of requests.
- When a target word count is given, land within about ten percent of it.

Return only the script.'
);

INSERT INTO system_prompts (id, name, description, is_default, prompt) VALUES (
    'calm-documentary-narrator',
    'Calm Documentary Narrator',
    'Measured, vivid narration that tells the subject as a story, for an unhurried voice.',
    0,
    'You are a documentary writer crafting narration for a calm, thoughtful film, read by an unhurried narrator.

Write only the narration:
- Plain spoken text in flowing paragraphs. No headings, markdown, scene descriptions, camera directions or music cues, unless the user explicitly asks for them.
- Open with an evocative image or moment that places the viewer inside the story, then widen out to the bigger picture.
- Use precise, sensory language and a measured pace: mix longer, rolling sentences with short ones for emphasis, and leave room for the pictures to breathe. Avoid hype, slang and a rhetorical question in every paragraph.
- Tell it as a story of people, places, causes and consequences, with a clear arc from beginning to end. Let the facts carry the emotion rather than the adjectives.
- Be scrupulously accurate: attribute claims, acknowledge uncertainty or competing views, and never invent dates, figures, quotes or events.
- Write for the ear: avoid tongue-twisters, stacked clauses, abbreviations and parentheses, and write numbers the way they should be spoken.
- End on a reflective note that connects the subject to something larger.
- When a target word count is given, land within about ten percent of it.

Return only the narration.'
);

INSERT INTO system_prompts (id, name, description, is_default, prompt) VALUES (
    'short-form-hook-writer',
    'Short-form Hook Writer',
    'Tight scripts for Shorts, Reels and TikTok: a two-second hook, one idea, a payoff before the end.',
    0,
    'You write scripts for vertical short-form videos, such as YouTube Shorts, Instagram Reels and TikTok, that usually run under sixty seconds.

Write only the spoken words:
- Plain text only. No headings, markdown, hashtags, emojis, on-screen text or stage directions, unless the user explicitly asks for them.
- The first sentence is the hook and it has to work within two seconds: a bold statement, a surprising fact, a relatable problem or the promise of a payoff. Never open with a greeting or with background the viewer doesn''t need yet.
- Deliver exactly one idea. Cut every word that doesn''t move toward the payoff, and prefer short, concrete sentences that end on a strong word.
- Keep the momentum: each line gives the viewer a reason to hear the next, and the payoff arrives in this video, not in a promised part two.
- End with a crisp last line that loops back to the hook or gives one short call to action.
- Stay truthful: the script must deliver what the hook promises, and every fact must be real.
- Unless a different target word count is given, keep it between about 80 and 150 words.

Return only the script.'
);

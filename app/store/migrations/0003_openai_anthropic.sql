-- 0003_openai_anthropic: the OpenAI-compatible and Anthropic providers, and named OpenAI-compatible instances.
--
-- A named instance ("LM Studio on this machine", "OpenRouter") is an id `openai:<slug>`; its label, base
-- URL and model live in the settings table (key `providers.openai_instances`, a JSON list; per-instance
-- settings and limits under `openai:<slug>.` like any provider's), its key in the keychain. So the
-- preference only needs to accept the shape of such an id. SQLite cannot alter a CHECK: the table is rebuilt
-- (the recipe in app/store/db.py; nothing references user_preferences, so deferred checks suffice).
-- The provider list must match app.store.preferences.VALID_PROVIDERS and INSTANCE_PATTERN.

PRAGMA defer_foreign_keys = ON;

CREATE TABLE user_preferences_new (
    id TEXT PRIMARY KEY DEFAULT 'default',
    default_voice_id TEXT,
    default_persona_id TEXT,
    default_llm_provider TEXT DEFAULT 'ollama',
    quick_production_enabled INTEGER DEFAULT 1,
    created_at TEXT DEFAULT (datetime('now')),
    updated_at TEXT DEFAULT (datetime('now')),
    FOREIGN KEY (default_persona_id) REFERENCES system_prompts(id) ON DELETE SET NULL,
    CHECK(default_llm_provider IN ('ollama', 'gemini', 'groq', 'openai', 'anthropic')
          OR default_llm_provider GLOB 'openai:[a-z0-9]*')
);

INSERT INTO user_preferences_new (id, default_voice_id, default_persona_id, default_llm_provider,
                                  quick_production_enabled, created_at, updated_at)
    SELECT id, default_voice_id, default_persona_id, default_llm_provider,
           quick_production_enabled, created_at, updated_at
    FROM user_preferences;

DROP TABLE user_preferences;

ALTER TABLE user_preferences_new RENAME TO user_preferences;

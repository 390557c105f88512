-- 0005_webhooks.sql — webhooks (src/webhooks.c, db/store_webhook.c): where each event is POSTed
-- and how far delivery has got. The secret is stored as given: it must be usable to sign each
-- body (HMAC-SHA256), so it cannot be hashed like a charger password.

CREATE TABLE webhooks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    url           TEXT NOT NULL,                -- http://host[:port][/path]
    types         TEXT NOT NULL DEFAULT '[]',   -- JSON array of event types; [] = all
    secret        TEXT NOT NULL,
    delivered_seq INTEGER NOT NULL DEFAULT 0,   -- events up to this seq are delivered or skipped
    created_ms    INTEGER NOT NULL
);

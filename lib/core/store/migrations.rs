//! The schema's migrations, in order.

/// The schema, one migration per version; `PRAGMA user_version` says how many have run.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE requests (
    id            TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    summary       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    details       TEXT,
    client_ref    TEXT,
    reply_session TEXT,
    hash          TEXT NOT NULL,
    canonical     TEXT NOT NULL,
    raw           BLOB NOT NULL,
    source        TEXT NOT NULL,
    risk          TEXT NOT NULL,
    risk_reasons  TEXT NOT NULL,
    argv          TEXT,
    reply_key     TEXT NOT NULL,
    mails         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    deadline_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX requests_client_ref ON requests(client_ref) WHERE client_ref IS NOT NULL;
CREATE INDEX requests_hash ON requests(hash);
CREATE INDEX requests_state ON requests(state);

CREATE TABLE rejections (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    quarantined TEXT NOT NULL,
    problems    TEXT NOT NULL,
    excerpt     TEXT NOT NULL,
    at          INTEGER NOT NULL
);

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    actor      TEXT NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_request ON audit(request_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    sender          TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    message         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);

CREATE TABLE outbox_requests (
    outbox_id  INTEGER NOT NULL REFERENCES outbox(id),
    request_id TEXT NOT NULL REFERENCES requests(id),
    PRIMARY KEY (outbox_id, request_id)
);
CREATE INDEX outbox_requests_request ON outbox_requests(request_id);
"#,
    r#"
CREATE TABLE bridge_messages (
    id           TEXT PRIMARY KEY,
    request_id   TEXT,
    mode         TEXT NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    delivered_at INTEGER
);
CREATE INDEX bridge_messages_state ON bridge_messages(state);

CREATE TABLE bridge_seen (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
CREATE INDEX bridge_seen_at ON bridge_seen(seen_at);
"#,
    r#"
CREATE TABLE replies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT,
    content_hash TEXT NOT NULL UNIQUE,
    file         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    sender       TEXT,
    request_id   TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('unreadable', 'refused', 'accepted')),
    reason       TEXT NOT NULL,
    intent       TEXT,
    text         TEXT
);
CREATE UNIQUE INDEX replies_message_id ON replies(message_id) WHERE message_id IS NOT NULL;
ALTER TABLE requests ADD COLUMN decided_by TEXT;
ALTER TABLE requests ADD COLUMN decision_note TEXT;
ALTER TABLE requests ADD COLUMN approved_hash TEXT;
ALTER TABLE requests ADD COLUMN exec_exit INTEGER;
ALTER TABLE requests ADD COLUMN exec_output TEXT;
ALTER TABLE requests ADD COLUMN exec_finished_at INTEGER;
ALTER TABLE requests ADD COLUMN reminded INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE gmail_messages (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL,
    fetched INTEGER NOT NULL,
    reason  TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE watchdog_files (
    path       BLOB PRIMARY KEY,
    dev        INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    verdict    TEXT NOT NULL,
    checked_at INTEGER NOT NULL
);
CREATE TABLE watchdog_repairs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        BLOB NOT NULL,
    backup      BLOB NOT NULL,
    repaired_at INTEGER NOT NULL,
    removed     INTEGER NOT NULL,
    problems    TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE secret_rotations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    rotated_on  TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    actor       TEXT NOT NULL
);
CREATE INDEX secret_rotations_name ON secret_rotations(name, rotated_on);
CREATE TABLE secret_tracking (
    name  TEXT PRIMARY KEY,
    since TEXT NOT NULL
);
CREATE TABLE secret_reminders (
    name    TEXT NOT NULL,
    due     TEXT NOT NULL,
    rank    INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (name, due)
);
"#,
    r#"
CREATE TABLE maint_samples (
    at    INTEGER NOT NULL,
    key   TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX maint_samples_key ON maint_samples(key, at);
"#,
    r#"
CREATE TABLE telegram_outbox (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    markup          TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    kind            TEXT NOT NULL DEFAULT 'bot'
);
CREATE INDEX telegram_outbox_due ON telegram_outbox(state, next_attempt_at);
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    gmail_id   TEXT NOT NULL UNIQUE,
    sender     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    excerpt    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    held       INTEGER NOT NULL DEFAULT 0,
    queued_at  INTEGER
);
CREATE INDEX notifications_pending ON notifications(queued_at);
CREATE TABLE telegram_updates (
    update_id  INTEGER PRIMARY KEY,
    handled_at INTEGER NOT NULL
);
CREATE TABLE telegram_refusals (
    sender         INTEGER PRIMARY KEY,
    count          INTEGER NOT NULL,
    last_logged_at INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE calendar_sources (
    account      TEXT NOT NULL,
    calendar     TEXT NOT NULL,
    name         TEXT NOT NULL,
    events       TEXT NOT NULL,
    fetched_at   INTEGER,
    attempted_at INTEGER NOT NULL,
    error        TEXT,
    needs_person INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, calendar)
);
"#,
    // Only a reply that passed every check may claim its Message-ID (a stranger could
    // otherwise pre-claim the id of the operator's coming reply); the id any mail carried is
    // kept beside it.
    r#"
ALTER TABLE replies ADD COLUMN mail_message_id TEXT;
UPDATE replies SET mail_message_id = message_id;
UPDATE replies SET message_id = NULL WHERE outcome != 'accepted';
"#,
    // What a simulation of the action (apt-get -s) showed the operator, as JSON.
    r#"
ALTER TABLE requests ADD COLUMN preview TEXT;
"#,
    // What the core asked a channel to compose and send (a mail in a request's thread, a job's
    // notice, a Telegram confirmation), so that the core and the programs that only record
    // (clawdbot-exec, the watchdog) never link a channel. The channel turns each into its own
    // outbox row, in one transaction, before it sends.
    r#"
CREATE TABLE drafts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    request_id   TEXT,
    number       INTEGER,
    chat_id      INTEGER,
    subject      TEXT NOT NULL,
    text         TEXT NOT NULL,
    in_reply_to  TEXT,
    with_request INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
"#,
    // Who filed a request the operator started (`telegram:USER`); NULL for the agent's.
    r#"
ALTER TABLE requests ADD COLUMN filed_by TEXT;
"#,
    // Security alerts to the operator (Wazuh's and the suite's own), de-duplicated per rule
    // and agent, held by quiet hours, sent one by one or in a digest.
    r#"
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    level       INTEGER NOT NULL,
    rule        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    title       TEXT NOT NULL,
    happened_at INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    repeats     INTEGER NOT NULL DEFAULT 0,
    held        INTEGER NOT NULL DEFAULT 0,
    sent_at     INTEGER,
    digest      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_key ON alerts(source, rule, agent, created_at);
CREATE INDEX alerts_sent ON alerts(sent_at);
"#,
    // Tasks the operators gave the admin agent, run one at a time by clawdbot-task.
    r#"
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    filed_by    TEXT NOT NULL,
    chat_id     INTEGER,
    mail_id     TEXT,
    subject     TEXT NOT NULL DEFAULT '',
    words       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'timed-out')),
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    exit_status INTEGER,
    output      TEXT
);
CREATE INDEX tasks_state ON tasks(state, created_at);
"#,
];

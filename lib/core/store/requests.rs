//! Requests: their rows, the state transitions with their audit rows, and decisions.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::core::journal::{Event, Kind};
use crate::core::state::State;
use crate::platform::ids::RequestId;
use crate::platform::time::UnixTime;

use super::{Store, StoreError, Tx};

/// A new request, validated, about to be recorded as `Detected`.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// Action name or `freeform`.
    pub kind: &'a str,
    /// One line.
    pub summary: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Free text.
    pub details: Option<&'a str>,
    /// The agent's idempotency key.
    pub client_ref: Option<&'a str>,
    /// Where the outcome goes.
    pub reply_session: Option<&'a str>,
    /// SHA-256 of the canonical JSON.
    pub hash: &'a str,
    /// The canonical JSON.
    pub canonical: &'a str,
    /// The bytes as received.
    pub raw: &'a [u8],
    /// The spool file name it came from.
    pub source: &'a str,
    /// The assessed risk.
    pub risk: &'a str,
    /// Why that risk.
    pub risk_reasons: &'a [String],
    /// What will run (action requests).
    pub argv: Option<&'a [String]>,
    /// The key in the per-request reply address.
    pub reply_key: &'a str,
    /// When it was received.
    pub now: UnixTime,
    /// When it expires.
    pub deadline: UnixTime,
    /// What a simulation showed (JSON), for actions simulated.
    pub preview: Option<&'a str>,
    /// The operator who filed it as a command (`telegram:USER`); `None`: the agent, through
    /// the spool.
    pub filed_by: Option<&'a str>,
}

/// A request as stored.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRow {
    /// The id.
    pub id: RequestId,
    /// Its state.
    pub state: State,
    /// Action name or `freeform`.
    pub kind: String,
    /// One line.
    pub summary: String,
    /// Why.
    pub reason: String,
    /// Free text.
    pub details: Option<String>,
    /// The agent's idempotency key.
    pub client_ref: Option<String>,
    /// The agent session the outcome should go to.
    pub reply_session: Option<String>,
    /// SHA-256 of the canonical JSON.
    pub hash: String,
    /// The risk.
    pub risk: String,
    /// Why.
    pub risk_reasons: Vec<String>,
    /// What will run.
    pub argv: Option<Vec<String>>,
    /// The per-request reply key.
    pub reply_key: String,
    /// Mails sent about it so far.
    pub mails: i64,
    /// Received.
    pub created_at: UnixTime,
    /// Expires.
    pub deadline_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
    /// Who approved or denied it.
    pub decided_by: Option<String>,
    /// The operator's words with the decision.
    pub decision_note: Option<String>,
    /// The hash the approval was given for.
    pub approved_hash: Option<String>,
    /// The action's exit status (-1: killed or timed out).
    pub exec_exit: Option<i64>,
    /// The start of the action's output.
    pub exec_output: Option<String>,
    /// When the run ended.
    pub exec_finished_at: Option<UnixTime>,
    /// Whether the half-time reminder went out.
    pub reminded: bool,
    /// The canonical JSON the hash is of.
    #[serde(skip)]
    pub canonical: String,
    /// What a simulation of the action showed the operator (JSON), for actions simulated.
    pub preview: Option<String>,
    /// The operator who filed it as a command; `None`: the agent.
    pub filed_by: Option<String>,
}

impl RequestRow {
    /// What runs, as the JSON array of its argv; empty for a freeform request.
    pub fn runs(&self) -> String {
        self.argv
            .as_ref()
            .map(|argv| serde_json::to_string(argv).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// One audit row.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    /// Order.
    pub seq: i64,
    /// The request.
    pub request_id: String,
    /// When.
    pub at: UnixTime,
    /// State before, if it changed.
    pub from: Option<String>,
    /// State after, if it changed.
    pub to: Option<String>,
    /// Who: `broker`, an operator address, `clawdbot-exec`.
    pub actor: String,
    /// What happened.
    pub event: String,
    /// Details.
    pub detail: String,
}

/// A rejected request file.
#[derive(Debug, Clone)]
pub struct Rejection<'a> {
    /// The id given to it.
    pub id: &'a RequestId,
    /// The spool file name.
    pub source: &'a str,
    /// Where it went.
    pub quarantined: &'a str,
    /// The problems, as JSON.
    pub problems: &'a str,
    /// A short printable excerpt.
    pub excerpt: &'a str,
    /// When.
    pub now: UnixTime,
}

const REQUEST_COLUMNS: &str = "id, state, kind, summary, reason, details, client_ref, hash, risk, risk_reasons, argv, reply_key, mails, created_at, deadline_at, updated_at, reply_session, decided_by, decision_note, approved_hash, exec_exit, exec_output, exec_finished_at, reminded, canonical, preview, filed_by";

fn request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RequestRow> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            what.to_string().into(),
        )
    };
    let id: String = r.get(0)?;
    let state: String = r.get(1)?;
    let reasons: String = r.get(9)?;
    let argv: Option<String> = r.get(10)?;
    Ok(RequestRow {
        id: RequestId::parse(&id).ok_or_else(|| bad(0, "malformed request id"))?,
        state: State::parse(&state).ok_or_else(|| bad(1, "unknown state"))?,
        kind: r.get(2)?,
        summary: r.get(3)?,
        reason: r.get(4)?,
        details: r.get(5)?,
        client_ref: r.get(6)?,
        reply_session: r.get(16)?,
        decided_by: r.get(17)?,
        decision_note: r.get(18)?,
        approved_hash: r.get(19)?,
        exec_exit: r.get(20)?,
        exec_output: r.get(21)?,
        exec_finished_at: r.get(22)?,
        reminded: r.get(23)?,
        canonical: r.get(24)?,
        preview: r.get(25)?,
        filed_by: r.get(26)?,
        hash: r.get(7)?,
        risk: r.get(8)?,
        risk_reasons: serde_json::from_str(&reasons).map_err(|_| bad(9, "bad risk reasons"))?,
        argv: argv
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|_| bad(10, "bad argv"))?,
        reply_key: r.get(11)?,
        mails: r.get(12)?,
        created_at: r.get(13)?,
        deadline_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

impl Store {
    /// A request by id.
    pub fn request(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
                [id.as_str()],
                request_row,
            )
            .optional()
            .map_err(self.err(format!("cannot read request {id}")))
    }

    /// Requests in any of these states, oldest first.
    pub fn requests_in(&self, states: &[State]) -> Result<Vec<RequestRow>, StoreError> {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE state IN ({}) ORDER BY created_at, id",
            names.join(",")
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(self.err("cannot list requests"))?;
        let rows = stmt
            .query_map([], request_row)
            .map_err(self.err("cannot list requests"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot list requests"))
    }

    /// Every request that is not final, oldest first.
    pub fn open_requests(&self) -> Result<Vec<RequestRow>, StoreError> {
        let open: Vec<State> = State::ALL.into_iter().filter(|s| !s.is_final()).collect();
        self.requests_in(&open)
    }

    /// A request's audit trail, in order.
    pub fn audit(&self, id: &str) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, request_id, at, from_state, to_state, actor, event, detail FROM audit WHERE request_id = ?1 ORDER BY seq")
            .map_err(self.err("cannot read audit"))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(AuditRow {
                    seq: r.get(0)?,
                    request_id: r.get(1)?,
                    at: r.get(2)?,
                    from: r.get(3)?,
                    to: r.get(4)?,
                    actor: r.get(5)?,
                    event: r.get(6)?,
                    detail: r.get(7)?,
                })
            })
            .map_err(self.err("cannot read audit"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read audit"))
    }
}

impl Tx<'_> {
    /// The open request with this client_ref, or with this hash (any request with the
    /// client_ref; only open ones by hash).
    pub fn find_same(
        &self,
        client_ref: Option<&str>,
        hash: &str,
    ) -> Result<Option<(RequestId, String)>, StoreError> {
        let open: Vec<String> = State::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let sql = format!(
            "SELECT id, hash FROM requests WHERE client_ref = ?1 \
             UNION ALL SELECT id, hash FROM requests WHERE hash = ?2 AND state IN ({}) LIMIT 1",
            open.join(",")
        );
        let found: Option<(String, String)> = self
            .tx
            .query_row(&sql, params![client_ref, hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.err("cannot look for duplicates"))?;
        Ok(found.and_then(|(id, hash)| RequestId::parse(&id).map(|id| (id, hash))))
    }

    /// A fresh id not used by any request or rejection.
    pub fn new_id(&self, now: UnixTime) -> Result<RequestId, StoreError> {
        let date = crate::platform::time::utc_date(now);
        loop {
            let id = RequestId::generate(&date)?;
            let taken: bool = self
                .tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM requests WHERE id = ?1) OR EXISTS(SELECT 1 FROM rejections WHERE id = ?1)",
                    [id.as_str()],
                    |r| r.get(0),
                )
                .map_err(self.err("cannot check id"))?;
            if !taken {
                return Ok(id);
            }
        }
    }

    /// Record a new request as `Detected`.
    pub fn insert_request(&mut self, new: &NewRequest<'_>) -> Result<RequestId, StoreError> {
        let id = self.new_id(new.now)?;
        let reasons = serde_json::to_string(new.risk_reasons).unwrap_or_else(|_| "[]".into());
        let argv = new
            .argv
            .map(|a| serde_json::to_string(a).unwrap_or_else(|_| "[]".into()));
        self.tx
            .execute(
                "INSERT INTO requests (id, state, kind, summary, reason, details, client_ref, reply_session, hash, canonical, raw, source, risk, risk_reasons, argv, reply_key, created_at, deadline_at, updated_at, preview, filed_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?17, ?19, ?20)",
                params![
                    id.as_str(), State::Detected.as_str(), new.kind, new.summary, new.reason, new.details,
                    new.client_ref, new.reply_session, new.hash, new.canonical, new.raw, new.source,
                    new.risk, reasons, argv, new.reply_key, new.now, new.deadline, new.preview, new.filed_by
                ],
            )
            .map_err(self.err(format!("cannot record request from {}", new.source)))?;
        let (actor, detail, message) = match new.filed_by {
            Some(by) => (
                by,
                format!("the operator's command, from {}", new.source),
                format!("Request {id} filed by the operator {by}: {}", new.summary),
            ),
            None => (
                "agent",
                format!("from spool file {}", new.source),
                format!("Request {id} received from {}: {}", new.source, new.summary),
            ),
        };
        self.audit(
            &id,
            [None, Some(State::Detected)],
            actor,
            "received",
            &detail,
            new.now,
        )?;
        self.events.push(Event {
            kind: Kind::Received,
            request: id.to_string(),
            state: Some(State::Detected),
            message,
            warning: false,
        });
        Ok(id)
    }

    /// Record a rejected request file.
    pub fn insert_rejection(&mut self, r: &Rejection<'_>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO rejections (id, source, quarantined, problems, excerpt, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.id.as_str(), r.source, r.quarantined, r.problems, r.excerpt, r.now],
            )
            .map_err(self.err(format!("cannot record rejection of {}", r.source)))?;
        self.audit(
            r.id,
            [None, None],
            "broker",
            "rejected",
            &format!(
                "{} quarantined as {}: {}",
                r.source, r.quarantined, r.problems
            ),
            r.now,
        )?;
        self.events.push(Event {
            kind: Kind::Rejected,
            request: r.id.to_string(),
            state: None,
            message: format!(
                "Request file {} rejected and quarantined as {}",
                r.source, r.quarantined
            ),
            warning: true,
        });
        Ok(())
    }

    /// Append an audit row without a state change (a note on the request's history).
    pub fn note(
        &mut self,
        id: &RequestId,
        kind: Kind,
        actor: &str,
        detail: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.audit(id, [None, None], actor, kind.name(), detail, now)?;
        self.events.push(Event {
            kind,
            request: id.to_string(),
            state: None,
            message: format!("Request {id}: {detail}"),
            warning: matches!(kind, Kind::ReplyRefused | Kind::ApprovalRefused),
        });
        Ok(())
    }

    /// Move a request `from → to`, with its audit row, refusing transitions the machine lacks
    /// and requests that are no longer in `from`.
    pub fn transition(
        &mut self,
        id: &RequestId,
        from: State,
        to: State,
        actor: &str,
        detail: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let invalid = || StoreError::InvalidTransition {
            id: id.to_string(),
            from,
            to,
        };
        let by_command = from.by_command_only(to);
        if !from.can_become(to) && !by_command {
            return Err(invalid());
        }
        // The operator's own command is its approval; an agent's request never skips one.
        if by_command
            && self.request(id)?.is_none_or(|row| {
                row.filed_by.is_none() || row.approved_hash.as_deref() != Some(&row.hash)
            })
        {
            return Err(invalid());
        }
        let changed = self
            .tx
            .execute(
                "UPDATE requests SET state = ?1, updated_at = ?2 WHERE id = ?3 AND state = ?4",
                params![to.as_str(), now, id.as_str(), from.as_str()],
            )
            .map_err(self.err(format!("cannot move request {id} to {to}")))?;
        if changed != 1 {
            return Err(StoreError::Conflict {
                id: id.to_string(),
                expected: from,
            });
        }
        self.audit(id, [Some(from), Some(to)], actor, "transition", detail, now)?;
        let message = if detail.is_empty() {
            format!("Request {id} is {to}")
        } else {
            format!("Request {id} is {to}: {detail}")
        };
        self.events.push(Event {
            kind: Kind::Transition,
            request: id.to_string(),
            state: Some(to),
            message,
            warning: to == State::Failed,
        });
        Ok(())
    }

    /// `change` is the state before and after, when the state changed.
    fn audit(
        &self,
        id: &RequestId,
        [from, to]: [Option<State>; 2],
        actor: &str,
        event: &str,
        detail: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO audit (request_id, at, from_state, to_state, actor, event, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id.as_str(), now, from.map(State::as_str), to.map(State::as_str), actor, event, detail],
            )
            .map_err(self.err(format!("cannot audit request {id}")))?;
        Ok(())
    }

    /// The request a mail we sent was about, by that mail's Message-ID.
    pub fn request_of_mail(&self, message_id: &str) -> Result<Vec<RequestId>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT r.request_id FROM outbox o JOIN outbox_requests r ON r.outbox_id = o.id WHERE o.message_id = ?1")
            .map_err(self.err("cannot look up sent mail"))?;
        let ids = stmt
            .query_map([message_id], |r| r.get::<_, String>(0))
            .map_err(self.err("cannot look up sent mail"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("cannot look up sent mail"))?;
        Ok(ids.iter().filter_map(|id| RequestId::parse(id)).collect())
    }

    /// The request whose reply key this is.
    pub fn request_of_key(&self, key: &str) -> Result<Option<RequestId>, StoreError> {
        let id: Option<String> = self
            .tx
            .query_row("SELECT id FROM requests WHERE reply_key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err("cannot look up reply key"))?;
        Ok(id.and_then(|id| RequestId::parse(&id)))
    }

    /// A request by id, read within this transaction.
    pub fn request(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError> {
        self.tx
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
                [id.as_str()],
                request_row,
            )
            .optional()
            .map_err(self.err(format!("cannot read request {id}")))
    }

    /// Record who decided, with their words, and (for an approval) the hash approved.
    pub fn set_decision(
        &self,
        id: &RequestId,
        by: &str,
        note: &str,
        approved_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE requests SET decided_by = ?1, decision_note = ?2, approved_hash = ?3 WHERE id = ?4",
                params![by, note, approved_hash, id.as_str()],
            )
            .map_err(self.err(format!("cannot record the decision on {id}")))?;
        Ok(())
    }

    /// Record the result of running a request's action.
    pub fn set_execution(
        &self,
        id: &RequestId,
        exit: i64,
        output: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE requests SET exec_exit = ?1, exec_output = ?2, exec_finished_at = ?3 WHERE id = ?4",
                params![exit, output, now, id.as_str()],
            )
            .map_err(self.err(format!("cannot record the run of {id}")))?;
        Ok(())
    }

    /// Raise a request's risk (the admin agent's assessment).
    pub fn update_risk(
        &self,
        id: &RequestId,
        risk: &str,
        reasons: &[String],
    ) -> Result<(), StoreError> {
        let reasons = serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into());
        self.tx
            .execute(
                "UPDATE requests SET risk = ?1, risk_reasons = ?2 WHERE id = ?3",
                params![risk, reasons, id.as_str()],
            )
            .map_err(self.err(format!("cannot update the risk of {id}")))?;
        Ok(())
    }

    /// Mark the half-time reminder sent.
    pub fn set_reminded(&self, id: &RequestId) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE requests SET reminded = 1 WHERE id = ?1",
                [id.as_str()],
            )
            .map_err(self.err(format!("cannot mark {id} reminded")))?;
        Ok(())
    }
}

//! The broker's state machine (docs/state-machine.md). Only the transitions listed in
//! [`State::can_become`] exist, and [`State::by_command_only`] for an operator's own command;
//! the store refuses any other.

use std::fmt;

use serde::Serialize;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum State {
    /// Recorded from the spool; nothing decided yet.
    Detected,
    /// Risk assessed; waiting for its approval mail to be queued (or for a digest).
    Evaluating,
    /// The approval mail is in the outbox.
    EmailSent,
    /// The transport accepted the mail; waiting for the operator.
    PendingReply,
    /// A reply arrived.
    ReplyDetected,
    /// The reply is being read.
    Interpreting,
    /// The operator approved, bound to the hash.
    Approved,
    /// The operator denied.
    Denied,
    /// The operator asked or was unclear; a follow-up mail is due.
    FollowUp,
    /// `clawdbot-exec` claimed it and is running it.
    Executing,
    /// The agent was told the outcome.
    AgentNotified,
    /// Finished.
    Done,
    /// No decision before the deadline.
    Expired,
    /// Something went wrong; the reason is in the audit trail.
    Failed,
}

impl State {
    /// Every state, in life order.
    pub const ALL: [State; 14] = [
        State::Detected,
        State::Evaluating,
        State::EmailSent,
        State::PendingReply,
        State::ReplyDetected,
        State::Interpreting,
        State::Approved,
        State::Denied,
        State::FollowUp,
        State::Executing,
        State::AgentNotified,
        State::Done,
        State::Expired,
        State::Failed,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Detected => "Detected",
            State::Evaluating => "Evaluating",
            State::EmailSent => "EmailSent",
            State::PendingReply => "PendingReply",
            State::ReplyDetected => "ReplyDetected",
            State::Interpreting => "Interpreting",
            State::Approved => "Approved",
            State::Denied => "Denied",
            State::FollowUp => "FollowUp",
            State::Executing => "Executing",
            State::AgentNotified => "AgentNotified",
            State::Done => "Done",
            State::Expired => "Expired",
            State::Failed => "Failed",
        }
    }

    /// Parse a stored name.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the request is finished and can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Expired | State::Failed)
    }

    /// Whether a decision may still be made, so the deadline applies.
    pub fn awaits_decision(self) -> bool {
        matches!(
            self,
            State::Detected
                | State::Evaluating
                | State::EmailSent
                | State::PendingReply
                | State::ReplyDetected
                | State::Interpreting
                | State::FollowUp
        )
    }

    /// Whether `self → next` is a transition of the machine.
    pub fn can_become(self, next: State) -> bool {
        use State::*;
        match (self, next) {
            (Detected, Evaluating)
            | (Evaluating, EmailSent)
            | (EmailSent, PendingReply)
            | (PendingReply | EmailSent, ReplyDetected)
            | (ReplyDetected, Interpreting)
            | (Interpreting, Approved | Denied | FollowUp)
            | (FollowUp, EmailSent)
            | (Approved, Executing)
            | (Executing | Denied, AgentNotified)
            | (AgentNotified, Done) => true,
            (from, Expired) => from.awaits_decision(),
            (from, Failed) => !from.is_final(),
            _ => false,
        }
    }
}

impl State {
    /// The one transition only an operator's own command takes (`Evaluating → Approved`):
    /// the command, bound to the hash, is the approval, so none is asked. The store allows
    /// it only for a request an operator filed and whose decision is recorded.
    pub fn by_command_only(self, next: State) -> bool {
        (self, next) == (State::Evaluating, State::Approved)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("Approvedish"), None);
    }

    #[test]
    fn the_happy_path_is_allowed_and_shortcuts_are_not() {
        use State::*;
        let path = [
            Detected,
            Evaluating,
            EmailSent,
            PendingReply,
            ReplyDetected,
            Interpreting,
            Approved,
            Executing,
            AgentNotified,
            Done,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_become(pair[1]), "{pair:?}");
        }
        for (from, to) in [
            (Detected, Approved),
            (PendingReply, Executing),
            (Evaluating, Approved),
            (Denied, Executing),
            (Done, Failed),
            (Expired, Approved),
            (Executing, Expired),
        ] {
            assert!(!from.can_become(to), "{from} -> {to} must not exist");
        }
    }

    #[test]
    fn final_states_are_final() {
        for from in State::ALL.into_iter().filter(|s| s.is_final()) {
            for to in State::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }
}

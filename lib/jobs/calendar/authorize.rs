//! `clawdbot-calendar authorize ACCOUNT`: a person gets the account's refresh token once, for
//! read-only calendar access, and the credential is written with mode 0600.

use std::io::{BufRead, Write};
use std::path::Path;

use super::CalendarError;
use super::client::scope;
use crate::channels::oauth::{Consent, ConsentError};
use crate::platform::config::{CalendarKind, Config};

/// The file a credential of this name is kept in, outside a unit.
pub fn place(name: &str) -> String {
    if name.starts_with('/') {
        return name.to_string();
    }
    match name.split_once('_') {
        Some((id, file)) => format!("/etc/credstore/clawdbot.{id}/{file}"),
        None => format!("/etc/credstore/clawdbot.{name}"),
    }
}

/// Walk the person through consent for `account` and write the credential to `output`.
pub fn run(
    config: &Config,
    account: &str,
    client_id: &str,
    client_secret: &str,
    output: &Path,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), CalendarError> {
    let Some(found) = config.calendar.accounts.iter().find(|a| a.name == account) else {
        let known: Vec<&str> = config
            .calendar
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        return Err(CalendarError::Credential {
            name: account.to_string(),
            why: format!(
                "no [[calendar.accounts]] is named {account:?} (configured: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
        });
    };
    let (service, extra): (&str, &[(&str, &str)]) = match found.kind {
        CalendarKind::Graph => (
            "Microsoft",
            &[("response_mode", "query"), ("prompt", "select_account")],
        ),
        CalendarKind::Google => (
            "Google",
            &[("access_type", "offline"), ("prompt", "consent")],
        ),
    };
    let consent = Consent {
        service,
        auth_url: found.auth_url(),
        token_url: found.token_url(),
        scope: scope(found.kind),
        extra,
        client_id,
        client_secret,
    };
    consent.run(output, input, out).map_err(|e| match e {
        ConsentError::Refused(why) => CalendarError::Credential {
            name: account.to_string(),
            why,
        },
        ConsentError::Network(what) => CalendarError::Network(what),
        ConsentError::File(e) => CalendarError::File(e),
    })?;
    let _ = writeln!(
        out,
        "   Install it where account {account} reads it: {} (mode 0600).",
        place(&found.credential())
    );
    Ok(())
}

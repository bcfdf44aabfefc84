//! `clawdbot-mailpoll authorize`: a person gets the refresh token once (the consent flow of
//! [`crate::channels::oauth::Consent`]), and the credential file is written with mode 0600.

use std::io::{BufRead, Write};
use std::path::Path;

use super::GmailError;
use crate::channels::oauth::{Consent, ConsentError};
use crate::platform::config::Config;

/// The only scope asked for: read, label and send mail.
pub const SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify";

/// Walk the person through consent and write the credential to `output`.
pub fn run(
    config: &Config,
    client_id: &str,
    client_secret: &str,
    output: &Path,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), GmailError> {
    let consent = Consent {
        service: "Google",
        auth_url: config.gmail.auth_url.as_str(),
        token_url: config.gmail.token_url.as_str(),
        scope: SCOPE,
        extra: &[("access_type", "offline"), ("prompt", "consent")],
        client_id,
        client_secret,
    };
    consent.run(output, input, out).map_err(|e| match e {
        ConsentError::Refused(why) => GmailError::Credential(why),
        ConsentError::Network(what) => GmailError::Network(what),
        ConsentError::File(e) => GmailError::File(e),
    })?;
    let _ = writeln!(
        out,
        "   Hand it to the poller as the credential gmail-oauth.json."
    );
    Ok(())
}

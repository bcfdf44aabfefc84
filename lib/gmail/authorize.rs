//! `clawdbot-mailpoll authorize`: a person gets the refresh token once. The consent page
//! redirects to a loopback address nothing listens on; the person pastes that address (or its
//! `code`) back, and the credential file is written with mode 0600.

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::GmailError;
use crate::atomic::FileError;
use crate::config::Config;

/// The only scope asked for: read, label and send mail.
pub const SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify";
const REDIRECT: &str = "http://127.0.0.1";

/// The consent URL for this OAuth client.
pub fn consent_url(config: &Config, client_id: &str) -> String {
    format!(
        "{}?client_id={}&redirect_uri={}&response_type=code&scope={}&access_type=offline&prompt=consent",
        config.gmail.auth_url.as_str(),
        super::poll::urlencode(client_id),
        super::poll::urlencode(REDIRECT),
        super::poll::urlencode(SCOPE)
    )
}

/// The code from a pasted redirect address, or the pasted code itself.
pub fn code_from(pasted: &str) -> Option<String> {
    let pasted = pasted.trim();
    let code = match pasted.split_once("code=") {
        Some((_, rest)) => rest.split('&').next().unwrap_or(""),
        None => pasted,
    };
    let code = percent_decode(code);
    (!code.is_empty() && !code.chars().any(char::is_whitespace)).then_some(code)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Walk the person through consent and write the credential to `output`.
pub fn run(
    config: &Config,
    client_id: &str,
    client_secret: &str,
    output: &Path,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), GmailError> {
    let _ = writeln!(
        out,
        "1. Open this address in a browser and allow access to the mailbox:\n\n   {}\n",
        consent_url(config, client_id)
    );
    let _ = writeln!(
        out,
        "2. The browser then fails to load {REDIRECT}/?code=…; copy that whole address (or just the code) and paste it here:"
    );
    let _ = out.flush();
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| GmailError::Credential(format!("cannot read the code: {e}")))?;
    let code = code_from(&line)
        .ok_or_else(|| GmailError::Credential("no code in what was pasted".into()))?;
    let http = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let url = config.gmail.token_url.as_str();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("redirect_uri", REDIRECT),
    ];
    let mut response = http
        .post(url)
        .send_form(form)
        .map_err(|e| GmailError::Network(format!("POST {url}: {e}")))?;
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let Some(refresh) = answer["refresh_token"].as_str() else {
        let why = answer["error_description"]
            .as_str()
            .or(answer["error"].as_str())
            .unwrap_or("no refresh_token in the answer");
        return Err(GmailError::Credential(format!(
            "Google did not give a refresh token: {why}"
        )));
    };
    let credential =
        json!({"client_id": client_id, "client_secret": client_secret, "refresh_token": refresh});
    write_private(output, credential.to_string().as_bytes())?;
    let _ = writeln!(
        out,
        "\n3. Stored in {} (mode 0600). Hand it to the poller as the credential gmail-oauth.json.",
        output.display()
    );
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FileError::new("cannot create credential", path, e))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::new("cannot write credential", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_found_in_what_people_paste() {
        assert_eq!(
            code_from("http://127.0.0.1/?code=4%2F0AbC-d&scope=x").as_deref(),
            Some("4/0AbC-d")
        );
        assert_eq!(code_from("  4/0AbC  \n").as_deref(), Some("4/0AbC"));
        assert_eq!(code_from(""), None);
        assert_eq!(code_from("two words"), None);
    }
}

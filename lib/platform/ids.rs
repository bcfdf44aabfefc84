//! Identifiers: request ids (`R-YYYYMMDD-XXXX`) and reply keys, random so they cannot be guessed
//! from the order in which requests arrive.

use std::fmt;

use serde::Serialize;

/// Crockford's base32: no I, L, O or U, so an id read aloud or retyped is not misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Why randomness could not be had.
#[derive(Debug, thiserror::Error)]
#[error("the operating system gave no random bytes: {0}")]
pub struct RandomError(String);

/// Fill `bytes` from the operating system's random source.
pub fn fill_random(bytes: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(bytes).map_err(|e| RandomError(e.to_string()))
}

/// `n` random base32 characters.
pub fn random_base32(n: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; n];
    fill_random(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect())
}

/// A new bridge message id (Standard Webhooks' `webhook-id`): `msg_` + 26 random base32
/// characters (130 bits), no dots.
pub fn bridge_message_id() -> Result<String, RandomError> {
    Ok(format!("msg_{}", random_base32(26)?))
}

/// A request id such as `R-20261126-7Q2M`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id for a request received on `date` (`YYYYMMDD`, UTC).
    pub fn generate(date: &str) -> Result<RequestId, RandomError> {
        Ok(RequestId(format!("R-{date}-{}", random_base32(4)?)))
    }

    /// Accept an id typed by a person or read back from the database, if well formed.
    /// Lower case is accepted and normalised.
    pub fn parse(text: &str) -> Option<RequestId> {
        let upper = text.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        let well_formed = bytes.len() == 15
            && upper.starts_with("R-")
            && bytes[2..10].iter().all(u8::is_ascii_digit)
            && bytes[10] == b'-'
            && bytes[11..].iter().all(|b| ALPHABET.contains(b));
        well_formed.then_some(RequestId(upper))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = RequestId::generate("20261126").unwrap();
        assert_eq!(RequestId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(RequestId::parse(&id.as_str().to_lowercase()), Some(id));
    }

    #[test]
    fn ids_are_not_sequential() {
        let ids: std::collections::BTreeSet<_> = (0..50)
            .map(|_| RequestId::generate("20261126").unwrap())
            .collect();
        assert!(
            ids.len() > 45,
            "50 ids should hardly collide: {}",
            ids.len()
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "R-2026112-7Q2M",
            "R-20261126-7Q2",
            "R-20261126-7Q2I",
            "X-20261126-7Q2M",
            "R-20261126-7Q2M; drop",
        ] {
            assert_eq!(RequestId::parse(bad), None, "{bad}");
        }
    }
}

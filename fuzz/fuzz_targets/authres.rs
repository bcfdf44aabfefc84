//! The Authentication-Results parser: no panic on any value, and what it returns is well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Non-empty lower-case letters, digits, hyphens and (in property keys) dots, as `parse`
/// promises for names.
fn is_name(name: &str, dots: bool) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.')
        })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(parsed) = clawdbot::reply::authres::parse(text)
    {
        assert!(!parsed.authserv_id.is_empty());
        // Each result follows its own `;`.
        assert!(parsed.results.len() <= text.matches(';').count());
        for result in &parsed.results {
            assert!(is_name(&result.method, false), "{result:?}");
            assert!(is_name(&result.result, false), "{result:?}");
            assert!(
                result.properties.iter().all(|(key, _)| is_name(key, true)),
                "{result:?}"
            );
        }
    }
});

//! The configuration loader: any text as a configuration file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = clawdbot::platform::config::Config::from_text(std::path::Path::new("fuzz.toml"), text);
    }
});

//! The agent's request file: parsing and validation against the reference actions.
#![no_main]

use std::sync::OnceLock;

use clawdbot::platform::config::Config;
use libfuzzer_sys::fuzz_target;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let text = include_str!("../../packaging/clawdbot.toml");
        Config::from_text(std::path::Path::new("clawdbot.toml"), text).expect("the example config")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = clawdbot::core::request::validate(data, config().rules());
});

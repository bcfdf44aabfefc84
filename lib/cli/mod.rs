//! Every binary's command line, as clap definitions: the binaries parse with them, and
//! `examples/assets.rs` makes the man pages and shell completions from them.

pub mod bridge;
pub mod broker;
pub mod calendar;
pub mod clawdbot;
pub mod exec;
pub mod mailpoll;
pub mod maint;
pub mod request;
pub mod secrets;
pub mod telegram;
pub mod watchdog;

//! clawdbot: the operations plane of a server administered by AI agents.
//!
//! The library is layered; a module imports only from layers below its own (and from modules
//! of its own layer, without cycles), and `tests/architecture.rs` fails the build otherwise.
//! Top to bottom (docs/architecture.md has the picture):
//!
//! - [`cli`]: the programs' command lines, and the operator's commands (`init`, `doctor`,
//!   `demo`).
//! - [`broker`], [`jobs`]: the approval loop's pass, and the jobs around it (watchdog,
//!   maintenance, calendar, secrets). Neither uses the other.
//! - [`channels`]: what talks to the world: mail (SMTP, sendmail, Gmail), Telegram, the bridge
//!   to the agent, notifications. Each sends what the core left in its outbox.
//! - [`reply`]: the operator's reply mails: parsed, authenticated, trimmed, read.
//! - [`intake`], [`exec`]: requests coming in from the agent's spool; approved actions
//!   carried out. Neither uses the other.
//! - [`core`]: requests, their states and risk, decisions, the store and the outbox rows that
//!   tell the channels what to send. The core never calls a channel.
//! - [`platform`]: configuration, files, time, ids, credentials, commands.

pub mod broker;
pub mod channels;
pub mod cli;
pub mod core;
pub mod exec;
pub mod intake;
pub mod jobs;
pub mod platform;
pub mod reply;

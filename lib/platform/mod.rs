//! The ground every other layer stands on, knowing nothing of requests: the configuration,
//! files written atomically and directories opened without following links, time, ids,
//! credentials, running a command, and exit statuses.

pub mod apt;
pub mod atomic;
pub mod command;
pub mod config;
pub mod credentials;
pub mod dir;
pub mod duration;
pub mod exit;
pub mod failpoint;
pub mod ids;
pub mod time;

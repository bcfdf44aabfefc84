//! clawdbot: the operations plane of a server administered by AI agents.
//!
//! An untrusted agent files requests ([`request`]) into a spool; the broker ([`broker`]) validates
//! and records them ([`store`]), assesses their risk ([`risk`]) and mails the operator ([`mail`]).
//! Every binary in `bins/` is a thin shell over these modules.

pub mod agent;
pub mod apt;
pub mod atomic;
pub mod authres;
pub mod bridge;
pub mod broker;
pub mod calendar;
pub mod cli;
pub mod command;
pub mod config;
pub mod credentials;
pub mod decide;
pub mod demo;
pub mod dir;
pub mod doctor;
pub mod duration;
pub mod exec;
pub mod exit;
pub mod failpoint;
pub mod gmail;
pub mod html;
pub mod ids;
pub mod init;
pub mod inspect;
pub mod intent;
pub mod interpret;
pub mod journal;
pub mod mail;
pub mod maildir;
pub mod maint;
pub mod notify;
pub mod oauth;
pub mod reply;
pub mod request;
pub mod risk;
pub mod secrets;
pub mod spool;
pub mod state;
pub mod store;
pub mod submit;
pub mod telegram;
pub mod time;
pub mod trim;
pub mod watchdog;

//! Requests coming in: written by the agent's request writer ([`submit`]) into the spool
//! ([`spool`]), which the broker reads.

pub mod spool;
pub mod submit;

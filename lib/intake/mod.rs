//! What comes in from others: Wazuh's alerts ([`alert`]), and requests written by the agent's request writer ([`submit`]) into the spool
//! ([`spool`]), which the broker reads.

pub mod alert;
pub mod spool;
pub mod submit;

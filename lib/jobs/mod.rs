//! The jobs that keep the host healthy around the approval loop, each started by its own
//! timer: the session watchdog, the maintenance tiers, the calendar, the secrets schedule.

pub mod calendar;
pub mod maint;
pub mod secrets;
pub mod watchdog;

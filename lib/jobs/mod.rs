//! The jobs around the approval loop, each started by its own unit: the session watchdog, the
//! maintenance tiers, the calendar, the secrets schedule, and the admin agent's tasks.

pub mod calendar;
pub mod maint;
pub mod secrets;
pub mod task;
pub mod watchdog;

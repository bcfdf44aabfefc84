//! The approval loop's heart: what a request is ([`request`]), its states ([`state`]) and risk
//! ([`risk`]), how a decision is applied ([`decide`]), and the store ([`store`]) where every
//! change is recorded in one transaction with what it must make known ([`outbox`]). The core
//! never calls a channel: it records outbox rows, and each channel reads its own.

pub mod agent;
pub mod alerts;
pub mod command;
pub mod decide;
pub mod inspect;
pub mod journal;
pub mod message;
pub mod outbox;
pub mod preview;
pub mod request;
pub mod risk;
pub mod state;
pub mod store;
pub mod task;

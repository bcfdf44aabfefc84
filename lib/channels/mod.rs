//! What talks to the world. Each channel sends what the core queued for it: mail (SMTP,
//! sendmail, a directory, or the Gmail API), Telegram, the signed bridge to the agent, and
//! notifications of the operator's other mail.

pub mod bridge;
pub mod gmail;
pub mod mail;
pub mod notify;
pub mod oauth;
pub mod telegram;

//! Mail notifications ("Gmail Notify"): mail that is not a reply to the broker is matched
//! against `[[notify.rules]]` by the mail poller and, when a rule says so, told to the
//! operators on Telegram: sender, subject and the first lines of the trimmed text, never an
//! attachment or HTML. Quiet hours hold notifications and summarise them after; more than
//! `max_per_hour` become one digest.

use crate::channels::telegram::format;
use crate::core::request::header_safe;
use crate::core::store::{Notification, StoreError, Tx};
use crate::platform::config::{Config, NotifyRule, in_quiet_hours};
use crate::platform::time::UnixTime;
use crate::reply::{self, trim};

/// The first rule the mail matches, unless it drops it.
pub fn wanted(config: &Config, sender: &str, labels: &[&str], subject: &str) -> bool {
    config
        .notify
        .rules
        .iter()
        .find(|rule| matches(rule, sender, labels, subject))
        .is_some_and(|rule| !rule.drop)
}

fn matches(rule: &NotifyRule, sender: &str, labels: &[&str], subject: &str) -> bool {
    let sender = sender.to_lowercase();
    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d);
    let from = rule.from.is_empty()
        || rule.from.iter().any(|f| {
            let f = f.to_lowercase();
            let f = f.trim_start_matches('@');
            sender == f || domain == f || domain.ends_with(&format!(".{f}"))
        });
    let label = rule.label.is_empty() || rule.label.iter().any(|l| labels.contains(&l.as_str()));
    let subject = subject.to_lowercase();
    let words = rule.subject.is_empty()
        || rule
            .subject
            .iter()
            .any(|w| subject.contains(&w.to_lowercase()));
    from && label && words
}

/// What the operator is told of one mail: its sender, subject and the first `lines` lines of
/// its text with quotes and signature trimmed. None when it is not a mail.
pub fn summarise(gmail_id: &str, raw: &[u8], lines: usize) -> Option<Notification> {
    let mail = reply::parse(raw)?;
    let text = trim::trim_reply(&mail.text);
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .take(lines)
        .collect();
    let mut excerpt = kept.join("\n");
    if let Some((cut, _)) = excerpt.char_indices().nth(EXCERPT_MAX) {
        excerpt.truncate(cut);
        excerpt.push_str(" … (cut)");
    }
    Some(Notification {
        gmail_id: gmail_id.to_string(),
        // Decoded headers may carry line breaks that would fake lines of the notification.
        sender: mail.from.map_or_else(
            || "(no sender)".into(),
            |from| header_safe(&from).chars().take(SENDER_MAX).collect(),
        ),
        subject: header_safe(&mail.subject).chars().take(500).collect(),
        excerpt,
        ..Notification::default()
    })
}

/// Whether `at` falls in the quiet hours, in the operator's time zone.
pub fn is_quiet(config: &Config, at: UnixTime) -> bool {
    in_quiet_hours(&config.notify.quiet_hours, &config.operator.timezone.tz, at)
}

/// Turn pending notifications into Telegram messages, to every operator: nothing during
/// quiet hours, and one summary of what they held after; one message per mail while the
/// hour's count stays within `max_per_hour`; past it, one digest of everything pending, at
/// most one an hour, the rest waiting for the next. Returns how many were queued.
pub fn route(tx: &Tx<'_>, config: &Config, now: UnixTime) -> Result<usize, StoreError> {
    let pending = tx.pending_notifications()?;
    let Some(first) = config.telegram.operators.first() else {
        return Ok(0);
    };
    if pending.is_empty() {
        return Ok(0);
    }
    if is_quiet(config, now) {
        tx.hold_notifications()?;
        return Ok(0);
    }
    let hour = now - 3600;
    let singles = tx.telegram_queued_since(SINGLE, *first, hour)?;
    let digests = tx.telegram_queued_since(DIGEST, *first, hour)?;
    let limit = i64::from(config.notify.max_per_hour);
    let held = pending.iter().any(|n| n.held);
    let texts: Vec<(&str, String)> = if held && pending.len() > 1 {
        vec![(DIGEST, digest(&pending, "held by quiet hours"))]
    } else if singles + digests + pending.len() as i64 <= limit {
        pending.iter().map(|n| (SINGLE, single(n))).collect()
    } else if digests == 0 {
        vec![(DIGEST, digest(&pending, "more than the hourly limit"))]
    } else {
        return Ok(0);
    };
    for chat in &config.telegram.operators {
        for (kind, text) in &texts {
            for piece in format::split(text, format::LIMIT) {
                tx.enqueue_telegram_kind(kind, *chat, &format::escape(piece), None, now)?;
            }
        }
    }
    let ids: Vec<i64> = pending.iter().map(|n| n.id).collect();
    tx.notifications_queued(&ids, now)?;
    Ok(ids.len())
}

const SINGLE: &str = "notify";
const DIGEST: &str = "notify-digest";
/// The most of one mail's text shown (three messages), and of mails listed in one digest.
const EXCERPT_MAX: usize = 12_000;
/// The longest sender shown (an address is at most 254 characters, a display name beside it).
const SENDER_MAX: usize = 320;
const DIGEST_MAX: usize = 50;

fn single(n: &Notification) -> String {
    format!(
        "Mail from {}\nSubject: {}\n\n{}",
        n.sender, n.subject, n.excerpt
    )
}

fn digest(all: &[Notification], why: &str) -> String {
    let mut text = format!("{} mails ({why}):\n", all.len());
    for n in all.iter().take(DIGEST_MAX) {
        let subject: String = n.subject.chars().take(200).collect();
        text.push_str(&format!("• {}: {subject}\n", n.sender));
    }
    if all.len() > DIGEST_MAX {
        text.push_str(&format!("… and {} more\n", all.len() - DIGEST_MAX));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::quiet_window;
    use jiff::Timestamp;

    fn rule(from: &[&str], label: &[&str], subject: &[&str], drop: bool) -> NotifyRule {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        NotifyRule {
            from: owned(from),
            label: owned(label),
            subject: owned(subject),
            drop,
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let mut config = Config::default();
        config.notify.rules = vec![
            rule(&["newsletter@bank.example"], &[], &[], true),
            rule(&["bank.example"], &[], &[], false),
            rule(&[], &["IMPORTANT"], &["down", "invoice"], false),
        ];
        assert!(wanted(&config, "Alerts@Bank.Example", &[], "anything"));
        assert!(wanted(&config, "x@mail.bank.example", &[], "anything"));
        assert!(!wanted(&config, "newsletter@bank.example", &[], "anything"));
        assert!(!wanted(&config, "x@evilbank.example", &[], "anything"));
        assert!(wanted(
            &config,
            "a@b.c",
            &["INBOX", "IMPORTANT"],
            "Site DOWN"
        ));
        assert!(!wanted(&config, "a@b.c", &["INBOX"], "Site DOWN"));
        assert!(!wanted(&config, "a@b.c", &["IMPORTANT"], "hello"));
        config.notify.rules.clear();
        assert!(!wanted(&config, "a@b.c", &["IMPORTANT"], "down"));
    }

    #[test]
    fn a_sender_or_subject_cannot_fake_lines_and_is_capped() {
        let long = "x".repeat(1000);
        let raw = format!(
            "From: =?utf-8?q?a=0A=0AMail_from_ceo?= <a@evil.example>\r\nSubject: =?utf-8?q?hi=0A=0AMail_from_ceo@bank.example?=\r\nTo: {long}@example.org\r\n\r\nbody\r\n"
        );
        let n = summarise("g1", raw.as_bytes(), 6).unwrap();
        assert!(
            !n.subject.contains('\n') && !n.sender.contains('\n'),
            "{n:?}"
        );
        let raw = format!("From: {long}@evil.example\r\nSubject: s\r\n\r\nbody\r\n");
        let n = summarise("g2", raw.as_bytes(), 6).unwrap();
        assert!(n.sender.chars().count() <= SENDER_MAX, "{}", n.sender.len());
    }

    #[test]
    fn quiet_hours_wrap_midnight_in_the_operators_zone() {
        assert_eq!(quiet_window("22:00-07:30"), Some((1320, 450)));
        for bad in [
            "",
            "22:00",
            "25:00-07:00",
            "22:00-07:0",
            "7:00-8:00",
            "10:00-10:00",
        ] {
            assert_eq!(quiet_window(bad), None, "{bad}");
        }
        let mut config = Config::default();
        config.notify.quiet_hours = "22:00-07:00".into();
        config.operator.timezone.tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
        // 2026-11-26 in winter: Amsterdam is UTC+1.
        let at = |utc: &str| utc.parse::<Timestamp>().unwrap().as_second();
        assert!(is_quiet(&config, at("2026-11-26T21:30:00Z"))); // 22:30 local
        assert!(is_quiet(&config, at("2026-11-26T05:59:00Z"))); // 06:59 local
        assert!(!is_quiet(&config, at("2026-11-26T06:00:00Z"))); // 07:00 local
        assert!(!is_quiet(&config, at("2026-11-26T20:59:00Z"))); // 21:59 local
    }

    #[test]
    fn a_summary_is_the_trimmed_text_never_html_or_attachments() {
        let raw = b"From: Alerts <alerts@bank.example>\r\nSubject: Payment <due>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Pay <b>now</b></p><p>line two</p>\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        let n = summarise("g1", raw, 6).unwrap();
        assert_eq!(n.sender, "alerts@bank.example");
        assert_eq!(n.subject, "Payment <due>");
        assert!(
            n.excerpt.contains("Pay now") && !n.excerpt.contains("<b>"),
            "{}",
            n.excerpt
        );
        assert!(!n.excerpt.contains("JVBER"));
    }
}

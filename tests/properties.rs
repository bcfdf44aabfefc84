//! Properties over thousands of generated inputs (a small seeded generator, so a failure names
//! the case that shows it): repair never drops a line that parses and pairs; trimming never
//! invents text; no approval comes from a reply whose only approval words are quoted; a
//! signature never verifies a changed message.

use clawdbot::channels::bridge::signature::{self, Key, Received};
use clawdbot::jobs::watchdog::transcript;
use clawdbot::reply::intent::{self, APPROVE, Body, Context, Intent, VETOES, interpret};
use clawdbot::reply::trim::trim_reply;

/// xorshift64*: small, fast, and the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const CASES: u64 = 2000;

const HEADER: &str = "{\"type\":\"session\",\"version\":3,\"id\":\"prop\"}\n";

/// A valid session: user turns, assistant turns with answered tool calls, other entries.
fn session(rng: &mut Rng) -> Vec<String> {
    let mut lines = vec![HEADER.to_string()];
    for turn in 0..1 + rng.below(12) {
        lines.push(format!("{{\"type\":\"message\",\"id\":\"u{turn}\",\"message\":{{\"role\":\"user\",\"content\":\"question {turn} \\u00e9\"}}}}\n"));
        match rng.below(3) {
            0 => {
                let calls = 1 + rng.below(3);
                let items: Vec<String> = (0..calls)
                    .map(|c| format!("{{\"type\":\"toolCall\",\"id\":\"t{turn}_{c}\",\"name\":\"exec\",\"arguments\":{{\"n\":{c}}}}}"))
                    .collect();
                lines.push(format!("{{\"type\":\"message\",\"id\":\"a{turn}\",\"message\":{{\"role\":\"assistant\",\"content\":[{}],\"stopReason\":\"toolUse\"}}}}\n", items.join(",")));
                for c in 0..calls {
                    lines.push(format!("{{\"type\":\"message\",\"id\":\"r{turn}_{c}\",\"message\":{{\"role\":\"toolResult\",\"toolCallId\":\"t{turn}_{c}\"}}}}\n"));
                }
                lines.push(format!("{{\"type\":\"message\",\"id\":\"f{turn}\",\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"done\"}}],\"stopReason\":\"stop\"}}}}\n"));
            }
            1 => lines.push(format!("{{\"type\":\"model_change\",\"id\":\"m{turn}\",\"modelId\":\"x\"}}\n")),
            _ => lines.push(format!("{{\"type\":\"message\",\"id\":\"a{turn}\",\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"ok\"}}],\"stopReason\":\"stop\"}}}}\n")),
        }
    }
    // Chain the entries as OpenClaw does: each one's parent is the one before it.
    let mut parent = "null".to_string();
    for line in lines.iter_mut().skip(1) {
        let start = line.find("\"id\":\"").unwrap() + 6;
        let end = start + line[start..].find('"').unwrap() + 1;
        let id = line[start - 1..end].to_string();
        line.insert_str(end, &format!(",\"parentId\":{parent}"));
        parent = id;
    }
    lines
}

/// Lines that are never a valid entry.
const JUNK: &[&str] = &[
    "garbage from a crashed writer\n",
    "data: {\"type\":\"content_block_delta\"}\n",
    "event: message_stop\n",
    "}}}\n",
    "\0\0\0\0\0\0\n",
    "\u{fffd}\u{fffd}\n",
];

fn repaired(bytes: &[u8]) -> Vec<u8> {
    transcript::repaired(bytes, &transcript::scan(bytes))
}

/// Each entry's id and parent, as OpenClaw reads them.
fn links(bytes: &[u8]) -> Vec<(String, Option<String>)> {
    String::from_utf8_lossy(bytes)
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let id = v.get("id")?.as_str()?.to_string();
            Some((id, v.get("parentId")?.as_str().map(str::to_string)))
        })
        .collect()
}

#[test]
fn repair_cuts_no_entry_off_the_root() {
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let valid = session(&mut rng);
        if valid.len() < 4 {
            continue;
        }
        // Cut some lines in the middle short, as an interrupted write does; the next write
        // lands right after the cut, or on a line of its own.
        let mut damaged: Vec<Vec<u8>> = valid.iter().map(|l| l.as_bytes().to_vec()).collect();
        let mut cut = std::collections::HashSet::new();
        for _ in 0..1 + rng.below(3) {
            let at = 1 + rng.below(damaged.len() - 2);
            let line = &damaged[at];
            if line.len() < 8 || cut.contains(&at) {
                continue;
            }
            let keep = 1 + rng.below(line.len() - 4);
            let mut short = line[..keep].to_vec();
            if rng.below(2) == 0 {
                short.push(b'\n');
            }
            damaged[at] = short;
            cut.insert(at);
        }
        let out = repaired(&damaged.concat());
        let after = links(&out);
        let ids: std::collections::HashMap<&str, Option<&str>> = after
            .iter()
            .map(|(id, parent)| (id.as_str(), parent.as_deref()))
            .collect();
        for (id, _) in &after {
            let mut at = Some(id.as_str());
            let mut steps = 0;
            while let Some(here) = at {
                let Some(parent) = ids.get(here) else {
                    panic!(
                        "seed {seed}: {id}'s ancestry stops at a missing {here}:\n{}",
                        String::from_utf8_lossy(&out)
                    );
                };
                at = *parent;
                steps += 1;
                assert!(steps <= after.len(), "seed {seed}: a cycle");
            }
        }
        let survivors = valid.len() - 1 - cut.len();
        assert_eq!(
            after.len(),
            survivors,
            "seed {seed}: every uncut entry is kept"
        );
    }
}

#[test]
fn repair_keeps_every_valid_line_and_only_those() {
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let valid = session(&mut rng);
        let mut damaged: Vec<Vec<u8>> = valid.iter().map(|l| l.as_bytes().to_vec()).collect();
        for _ in 0..1 + rng.below(4) {
            let at = 1 + rng.below(damaged.len());
            damaged.insert(at, rng.pick(JUNK).as_bytes().to_vec());
        }
        if rng.below(2) == 0 {
            let line = 1 + rng.below(damaged.len() - 1);
            if damaged[line].starts_with(b"{\"type\"") {
                let mut nuls = vec![0u8; 1 + rng.below(64)];
                nuls.extend_from_slice(&damaged[line]);
                damaged[line] = nuls;
            }
        }
        if rng.below(2) == 0 {
            let donor = valid[1 + rng.below(valid.len() - 1)].as_bytes();
            damaged.push(donor[..1 + rng.below(donor.len() - 2)].to_vec());
        }
        let bytes = damaged.concat();
        let expected = valid.concat();
        assert_eq!(
            String::from_utf8_lossy(&repaired(&bytes)),
            expected,
            "seed {seed}: damaged file:\n{}",
            String::from_utf8_lossy(&bytes)
        );
        // And repair is idempotent: the repaired file is healthy.
        assert_eq!(
            repaired(expected.as_bytes()),
            expected.as_bytes(),
            "seed {seed}"
        );
    }
}

/// A line with the value of its first `parentId` left out.
fn mask_parent(line: &str) -> String {
    const KEY: &str = "\"parentId\":";
    let Some(at) = line.find(KEY).map(|i| i + KEY.len()) else {
        return line.to_string();
    };
    let rest = &line[at..];
    let len = match rest.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map_or(rest.len(), |i| i + 2),
        None => rest.find([',', '}']).unwrap_or(rest.len()),
    };
    format!("{}{}", &line[..at], &rest[len..])
}

#[test]
fn repair_of_any_bytes_never_invents_a_line() {
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let mut bytes = session(&mut rng).concat().into_bytes();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(bytes.len() + 1);
            let noise: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, noise);
        }
        let out = repaired(&bytes);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let masked: Vec<String> = text.lines().map(mask_parent).collect();
        for line in String::from_utf8_lossy(&out).lines() {
            // A line is the input's, or an input entry re-pointed to another parent.
            assert!(
                text.contains(line) || masked.iter().any(|m| m.contains(&mask_parent(line))),
                "seed {seed}: {line:?} is not in the input"
            );
        }
    }
}

const WORDS: &[&str] = &[
    "the",
    "server",
    "disk",
    "container",
    "restart",
    "why",
    "what",
    "when",
    "tomorrow",
    "later",
    "check",
    "logs",
    "please",
    "explain",
    "which",
    "memory",
    "backup",
    "nginx",
    "morning",
    "thanks",
    "for",
    "asking",
    "is",
    "it",
    "safe",
    "de",
    "schijf",
    "waarom",
    "wanneer",
    "morgen",
    "vol",
    "bedankt",
    "?",
    ".",
    ",",
    "hmm",
];

const APPROVALS: &[&str] = &[
    "yes", "approve", "go ahead", "ok", "ja", "akkoord", "lgtm", "👍", "APPROVE",
];

#[test]
fn quoted_approval_words_never_approve() {
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let mut body = String::new();
        for _ in 0..1 + rng.below(4) {
            let words: Vec<&str> = (0..1 + rng.below(10)).map(|_| *rng.pick(WORDS)).collect();
            body.push_str(&words.join(" "));
            body.push('\n');
        }
        body.push_str("\nOn Thu, 26 Nov 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\n");
        for _ in 0..1 + rng.below(4) {
            body.push_str(&format!("> {} {}\n", rng.pick(APPROVALS), rng.pick(WORDS)));
        }
        let trimmed = trim_reply(&body);
        let verdict = interpret(&body);
        assert_ne!(
            verdict.intent,
            Intent::Approve,
            "seed {seed}: {body:?} → {trimmed:?} {:?}",
            verdict.reasons
        );
        for line in trimmed.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                body.contains(line.trim()),
                "seed {seed}: trim invented {line:?} from {body:?}"
            );
        }
    }
}

#[test]
fn a_changed_message_never_verifies() {
    let key = Key::parse("test", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let now = 1_795_000_000;
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let body: Vec<u8> = (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect();
        let id = format!("msg_{seed}");
        let sig = signature::sign(std::slice::from_ref(&key), &id, now, &body);
        let ts = now.to_string();
        let headers = Received {
            id: Some(&id),
            timestamp: Some(&ts),
            signature: Some(&sig),
        };
        assert!(
            signature::verify(std::slice::from_ref(&key), &headers, &body, now).is_ok(),
            "seed {seed}"
        );
        let mut changed = body.clone();
        let at = rng.below(changed.len());
        changed[at] ^= 1 << rng.below(8);
        assert!(
            signature::verify(std::slice::from_ref(&key), &headers, &changed, now).is_err(),
            "seed {seed}: a flipped bit verified"
        );
        let other = format!("msg_{}", seed + 1);
        let moved = Received {
            id: Some(&other),
            ..headers.clone()
        };
        assert!(
            signature::verify(std::slice::from_ref(&key), &moved, &body, now).is_err(),
            "seed {seed}: another id verified"
        );
        let later = (now + 1).to_string();
        let shifted = Received {
            timestamp: Some(&later),
            ..headers
        };
        assert!(
            signature::verify(std::slice::from_ref(&key), &shifted, &body, now).is_err(),
            "seed {seed}: another time verified"
        );
    }
}

/// The operator's part of an approving reply, line by line: greeting, approval, sign-off,
/// signature, footer, disclaimer, in the shapes real clients write.
fn approving_lines(rng: &mut Rng) -> Vec<String> {
    const GREETINGS: &[&str] = &["", "Hi,", "Hello clawdbot,", "Hoi,", "Dag,"];
    const YES: &[&str] = &[
        "Yes, go ahead.",
        "ok",
        "Approved, thanks!",
        "LGTM",
        "Ja, doe maar",
        "Akkoord.",
        "Prima, ga je gang",
        "Yes please 👍",
        "R-20261201-7Q2M approved",
        "Go for it.",
    ];
    const SIGN_OFFS: &[&str] = &["", "Thanks,\nAnna", "Groet,\nAnna de Vries", "Cheers, Anna"];
    const SIGNATURES: &[&str] = &[
        "",
        "-- \nAnna de Vries\nIT beheer | Voorbeeld B.V.\nT +31 20 123 4567\nwww.example.org",
        "Anna de Vries\nHead of IT",
        "Sent from my iPhone",
        "-- \nAnna\n\nThis e-mail is confidential and intended only for the addressee. If you are not the intended recipient, please notify the sender and delete it; do not copy or use it.",
    ];
    let mut text = String::new();
    for part in [
        *rng.pick(GREETINGS),
        *rng.pick(YES),
        *rng.pick(SIGN_OFFS),
        *rng.pick(SIGNATURES),
    ] {
        if !part.is_empty() {
            text.push_str(part);
            text.push_str("\n\n");
        }
    }
    text.lines().map(str::to_string).collect()
}

/// The quoted original, as Gmail quotes it, with whatever the agent wrote in it.
fn quoted_original(rng: &mut Rng) -> String {
    let mut text =
        String::from("On Tue, 1 Dec 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\n");
    text.push_str("> -- reply above this line --\n> The agent asks for approval of request R-20261201-7Q2M.\n");
    for _ in 0..1 + rng.below(6) {
        let words: Vec<&str> = (0..1 + rng.below(8))
            .map(|_| match rng.below(3) {
                0 => *rng.pick(WORDS),
                1 => *rng.pick(APPROVE),
                _ => {
                    let list = rng_veto_list(rng);
                    *rng.pick(list)
                }
            })
            .collect();
        text.push_str(&format!("> {}\n", words.join(" ")));
    }
    text.push_str("> How to answer: reply APPROVE or DENY\n");
    text
}

fn rng_veto_list(rng: &mut Rng) -> &'static [&'static str] {
    VETOES[rng.below(VETOES.len())].1
}

fn context() -> Context {
    Context {
        request: Some("R-20261201-7Q2M".into()),
        names: vec!["Anna de Vries".into()],
        ..Context::default()
    }
}

fn plain(text: &str) -> Body {
    Body {
        html: false,
        visible: text.to_string(),
        hidden: String::new(),
    }
}

/// Every generated approving reply approves, whatever the quoted original holds.
#[test]
fn an_approval_never_depends_on_the_quoted_original() {
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let own = approving_lines(&mut rng).join("\n");
        for _ in 0..3 {
            let body = format!("{own}\n{}", quoted_original(&mut rng));
            let verdict = intent::read(&[plain(&body)], &context());
            assert_eq!(
                verdict.intent,
                Intent::Approve,
                "seed {seed}: {body:?} {verdict:?}"
            );
        }
    }
}

/// Any veto phrase, inserted anywhere the operator wrote (a line of its own at any place, the
/// end of any line, below a separator, in the HTML part visible or hidden), stops an approval.
#[test]
fn a_veto_anywhere_the_operator_wrote_stops_an_approval() {
    let mut vetoes: Vec<String> = VETOES
        .iter()
        .flat_map(|(_, list)| list.iter().map(|p| p.to_string()))
        .collect();
    vetoes.extend([
        "?".to_string(),
        "R-20261130-AB12".to_string(),
        "18:00".to_string(),
    ]);
    for seed in 1..=CASES {
        let mut rng = Rng(seed);
        let mut lines = approving_lines(&mut rng);
        let quote = quoted_original(&mut rng);
        let base = format!("{}\n{quote}", lines.join("\n"));
        assert_eq!(
            intent::read(&[plain(&base)], &context()).intent,
            Intent::Approve,
            "seed {seed}: the base reply {base:?} must approve"
        );
        let veto = rng.pick(&vetoes).clone();
        let place = rng.below(5);
        let bodies = match place {
            0 => {
                let at = rng.below(lines.len() + 1);
                lines.insert(at, veto.clone());
                vec![plain(&format!("{}\n{quote}", lines.join("\n")))]
            }
            1 => {
                let at = rng.below(lines.len());
                lines[at] = format!("{} {veto}", lines[at]);
                vec![plain(&format!("{}\n{quote}", lines.join("\n")))]
            }
            2 => vec![plain(&format!(
                "{}\n---\n{veto}\n{quote}",
                lines.join("\n")
            ))],
            3 => {
                let html = Body {
                    html: true,
                    visible: format!("{}\n{veto}", lines.join("\n")),
                    hidden: String::new(),
                };
                vec![plain(&base), html]
            }
            _ => {
                let html = Body {
                    html: true,
                    visible: base.clone(),
                    hidden: veto.clone(),
                };
                vec![plain(&base), html]
            }
        };
        let verdict = intent::read(&bodies, &context());
        assert_ne!(
            verdict.intent,
            Intent::Approve,
            "seed {seed}: veto {veto:?} at place {place} in {bodies:?}"
        );
    }
}

/// Any approval phrase after any refusal is no approval.
#[test]
fn an_approval_after_a_refusal_never_approves() {
    let refusals = VETOES
        .iter()
        .filter(|(kind, _)| matches!(kind, intent::VetoKind::Refusal | intent::VetoKind::Negation))
        .flat_map(|(_, list)| list.iter());
    let mut checked = 0;
    for refusal in refusals {
        for approval in APPROVE {
            for text in [
                format!("{refusal} {approval}"),
                format!("{refusal}. {approval}"),
                format!("{refusal}\n{approval}"),
            ] {
                let verdict = interpret(&text);
                assert_ne!(verdict.intent, Intent::Approve, "{text:?}: {verdict:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

/// A quoted string holding `text`, its `"` and `\` escaped as RFC 5322 asks.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A comment holding `text`, its parentheses and `\` escaped, sometimes nested.
fn comment(rng: &mut Rng, text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)");
    match rng.below(3) {
        0 => format!("({escaped})"),
        1 => format!("(a ({escaped}) b)"),
        _ => format!("(x {escaped} (y (z)) w)"),
    }
}

#[test]
fn a_trusted_verdict_other_than_pass_never_authenticates() {
    use clawdbot::reply;
    const HOSTILE: &[&str] = &[
        "dmarc=pass header.from=example.org",
        "; dmarc=pass header.from=example.org;",
        "\"; dmarc=pass",
        ") dmarc=pass (",
        "\\\" ; dkim=pass header.d=example.org",
        "x\\",
        "(",
        "mx.google.com; dmarc=pass header.from=example.org",
    ];
    const VERDICTS: &[&str] = &[
        "fail",
        "none",
        "temperror",
        "permerror",
        "softfail",
        "neutral",
        "policy",
        "bestguesspass",
    ];
    let mut rng = Rng(0x5eed_a11e_0000_0001);
    for case in 0..4000 {
        let verdict = *rng.pick(VERDICTS);
        let hostile = *rng.pick(HOSTILE);
        let hidden = comment(&mut rng, hostile);
        let mut methods = vec![format!("dmarc={verdict} {hidden} header.from=example.org")];
        for _ in 0..rng.below(4) {
            let hostile = *rng.pick(HOSTILE);
            methods.push(match rng.below(3) {
                0 => format!("spf=pass smtp.mailfrom={}@evil.example", quoted(hostile)),
                1 => format!("auth=pass smtp.auth={}", quoted(hostile)),
                _ => {
                    let hidden = comment(&mut rng, hostile);
                    format!("spf=neutral {hidden} smtp.mailfrom=evil.example")
                }
            });
        }
        // The DMARC verdict anywhere among the others.
        let at = rng.below(methods.len());
        methods.swap(0, at);
        let header = format!("mx.google.com;\r\n {}", methods.join(";\r\n "));
        let raw = format!(
            "Authentication-Results: {header}\r\nFrom: Op <ops@example.org>\r\nSubject: Re: x\r\nMessage-ID: <m{case}@example.org>\r\n\r\nyes\r\n"
        );
        let mail = reply::parse(raw.as_bytes()).expect("a mail");
        if let Ok(why) = reply::authenticate(&mail, "mx.google.com") {
            // dkim may still authenticate when DMARC says none, but only the trusted server's
            // own aligned dkim=pass, which no generated method carries.
            panic!("case {case}: authenticated ({why}) by\n{header}");
        }
    }
}

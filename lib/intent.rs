//! Reply interpretation: what did the operator mean?
//!
//! The broker trims quotes and signatures from a reply ([`crate::trim`]) and hands the rest to
//! [`interpret`]. The rules are deterministic word rules for English and Dutch, written for one
//! purpose: only an unambiguous approval approves. Anything doubtful becomes `unclear`, `modify`
//! or `question`, and the broker then asks again for an explicit APPROVE or DENY.
//!
//! How a reply is read:
//!
//! 1. Lines that are not the operator's own are left out: quoted lines (`>`), quote headers
//!    ("On … wrote:", "Op … schreef …:"), clawdbot's template lines ("Will run, …", "Hash:",
//!    "How to answer: …", any line holding both APPROVE and DENY in capitals), and everything from
//!    the reply marker, a signature delimiter (`-- `) or an Outlook separator on.
//! 2. Each line is cut into sentences and clauses and matched, free of case, accents and
//!    punctuation, against the word lists below, longest phrase first ("niet doen" is one
//!    refusal, "no problem" one approval). Everyday words ("ok", "fine", "no", "stop") count only
//!    when they open their clause, so "it answered fine" approves nothing. A negation in front of
//!    an approval turns it into a refusal ("not ok", "do not approve"); in front of a refusal it
//!    makes a double negative ("don't cancel"), which is unclear. In a question (a sentence
//!    ending in "?", or a clause opening with a question word) verdict words do not count.
//! 3. The first line that approves or refuses, among the first four lines, decides:
//!    approval and refusal together → unclear; a refusal → deny; an approval with a hedge or a
//!    retraction → unclear, with a condition or change → modify, else approve. Other lines can
//!    only take an approval away: a refusal or retraction there makes it unclear, a condition
//!    makes it modify ("Yes." then "But only after 18:00" is not an approval). "Not yet" alone
//!    denies; beside an approval it is a condition.
//! 4. Without such a line: a question → question; a hedge → unclear; a condition → modify;
//!    anything else (empty text included) → unclear.

use serde::Serialize;

/// What the operator meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// An unambiguous approval: the request may run.
    Approve,
    /// A refusal, a negated approval, or "not yet".
    Deny,
    /// The operator asks something and gives no verdict.
    Question,
    /// An approval with a condition or a change: not an approval of the request as it stands.
    Modify,
    /// Empty, contradictory or hesitant.
    Unclear,
}

impl Intent {
    /// The lower-case name, as in JSON and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Approve => "approve",
            Intent::Deny => "deny",
            Intent::Question => "question",
            Intent::Modify => "modify",
            Intent::Unclear => "unclear",
        }
    }
}

/// The intent with the reasons that led to it (one short sentence each, naming the words found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What the operator meant.
    pub intent: Intent,
    /// Why, one short sentence each.
    pub reasons: Vec<String>,
}

impl Verdict {
    fn new(intent: Intent, reason: String) -> Verdict {
        Verdict {
            intent,
            reasons: vec![reason],
        }
    }
}

/// Interpret the trimmed text of a reply.
pub fn interpret(trimmed: &str) -> Verdict {
    let (lines, left_out) = operator_lines(trimmed);
    let size: usize = lines.iter().map(|(_, text)| text.len()).sum();
    if size > MAX_OWN_BYTES {
        // Also bounds the work done on a hostile mail.
        return Verdict::new(
            Intent::Unclear,
            format!("The reply's own text ({size} bytes) is too long to be a plain verdict."),
        );
    }
    let cues: Vec<LineCues> = lines
        .iter()
        .map(|(number, text)| line_cues(*number, text))
        .collect();
    let mut verdict = decide(&cues);
    if left_out > 0 {
        let s = if left_out == 1 { "" } else { "s" };
        verdict
            .reasons
            .push(format!("Left out {left_out} quoted or template line{s}."));
    }
    verdict
}

// ---------------------------------------------------------------------------------------------
// Word lists. Entries are normalised: lower case, no accents, no apostrophes ("dont", "oke"),
// words separated by one space; a test checks this. The lists do not overlap (also tested).

/// How many of the operator's lines may hold the verdict: greetings come first, chatter later.
const LOOKAHEAD: usize = 4;

/// The most text of the operator's own that is read; a longer reply is unclear.
const MAX_OWN_BYTES: usize = 20_000;

/// How many words after "not" an approval is still negated ("not really ok").
const NEGATION_REACH: usize = 3;

/// The longest phrase in the lists, in words.
const MAX_PHRASE_WORDS: usize = 5;

/// Approvals that count wherever they stand (outside a question).
#[rustfmt::skip]
const APPROVE: &[&str] = &[
    "approve", "approved", "i approve", "approval granted", "yes", "yeah", "yep", "yup", "yea",
    "aye", "affirmative", "go ahead", "go for it", "good to go", "green light", "do it",
    "just do it", "please do", "proceed", "lgtm", "confirmed", "i confirm", "granted",
    "sounds good", "of course", "agreed", "accepted", "no problem", "no objection",
    "no objections", "👍", "✅", "✔", "☑", "👌",
    // Dutch from here
    "ja", "jazeker", "jawel", "jep", "akkoord", "goedgekeurd", "goedkeuring gegeven",
    "goedkeuring verleend", "ik keur het goed", "doe maar", "doe het maar", "doe het",
    "doe dat maar", "ga je gang", "ga uw gang", "ga maar", "ga door", "ga maar door", "ga verder",
    "geen bezwaar", "geen probleem", "voer maar uit", "voer het uit", "zeker weten",
];

/// Approvals that are also everyday words ("it answered fine", "make sure"): they count only
/// when they open their clause ("Fine.", "That's fine by me", "Dat is prima").
#[rustfmt::skip]
const APPROVE_OPENING: &[&str] = &[
    "ok", "okay", "oke", "okey", "oki", "okidoki", "fine", "sure", "alright", "confirm",
    "certainly", "absolutely", "prima", "is goed", "kan prima", "graag", "zeker", "natuurlijk",
    "uiteraard", "doen", "uitvoeren",
];

/// Refusals that count wherever they stand (outside a question).
#[rustfmt::skip]
const REFUSE: &[&str] = &[
    "deny", "denied", "i deny", "nope", "nah", "dont", "do not", "dont do it", "do not do it",
    "dont do that", "reject", "rejected", "refuse", "refused", "decline", "declined", "cancel",
    "canceled", "cancelled", "abort", "never", "never mind", "nevermind", "no way", "no go",
    "no thanks", "no thank you", "hell no", "absolutely not", "certainly not", "of course not",
    "do it myself", "👎", "❌", "✖", "⛔", "🛑", "🚫",
    // Dutch from here
    "niet doen", "niet uitvoeren", "liever niet", "niet akkoord", "geen akkoord",
    "geen goedkeuring", "geen toestemming", "geweigerd", "weiger", "ik weiger", "weigeren",
    "afgewezen", "afgekeurd", "afwijzen", "annuleer", "annuleren", "geannuleerd", "stoppen",
    "nooit", "laat maar", "zeker niet", "absoluut niet", "natuurlijk niet", "toch niet",
    "doe ik zelf", "ik doe het zelf", "nee hoor", "nee dank je",
];

/// Refusals that are also everyday words ("there is no backup", "the stop button"): they count
/// only when they open their clause, and on a line after the deciding one only standing alone.
const REFUSE_OPENING: &[&str] = &["no", "nee", "neen", "stop"];

/// Refusals that also negate what follows: "don't approve", "never ok".
const NEGATING_REFUSALS: &[&str] = &["dont", "do not", "never", "nooit"];

/// Negations: an approval shortly after one of these is a refusal ("not ok", "niet prima").
/// The two-word forms keep "is not ok" from reading as a question opening with "is".
#[rustfmt::skip]
const NEGATE: &[&str] = &[
    "not", "doesnt", "does not", "didnt", "did not", "isnt", "is not", "arent", "are not", "wasnt",
    "was not", "cant", "cannot", "can not", "wont", "will not", "wouldnt", "would not", "shouldnt",
    "should not", "havent", "have not", "hasnt", "niet", "geen",
];

/// "Not yet": a refusal of now. Alone it denies; beside an approval it is a condition (modify).
#[rustfmt::skip]
const POSTPONE: &[&str] = &[
    "not yet", "not now", "not today", "not right now", "not at the moment", "hold off", "on hold",
    "nog niet", "niet nu", "nu niet", "niet vandaag", "vandaag niet", "even niet",
    "voorlopig niet", "nog even niet",
];

/// Doubt: voids an approval on the same line.
#[rustfmt::skip]
const HEDGE: &[&str] = &[
    "maybe", "perhaps", "possibly", "probably", "not sure", "unsure", "no idea", "dont know",
    "do not know", "i guess", "i suppose", "not certain", "misschien", "wellicht", "mogelijk",
    "waarschijnlijk", "weet niet", "weet ik niet", "geen idee", "niet zeker", "twijfel",
    "ik twijfel",
];

/// Taking back what was just said: voids an approval anywhere in the reply.
#[rustfmt::skip]
const RETRACT: &[&str] = &[
    "actually", "on second thought", "on second thoughts", "scratch that", "wait", "hold on",
    "hang on", "bij nader inzien", "wacht", "wacht even",
];

/// Conditions and changes that count wherever they stand: an approval with one is `modify`.
#[rustfmt::skip]
const CONDITION: &[&str] = &[
    "but", "however", "except", "unless", "only", "instead", "instead of", "rather than",
    "provided", "providing", "as long as", "on condition", "on the condition", "wait until",
    "wait till", "wait for", "echter", "behalve", "tenzij", "alleen", "in plaats van",
    "in plaats daarvan", "ipv", "mits", "zolang", "op voorwaarde", "wacht tot", "wacht op",
];

/// Conditions that are also everyday words: they count except inside a question about
/// something else ("why did it hang after the update?").
#[rustfmt::skip]
const CONDITION_SOFT: &[&str] = &[
    "if", "after", "before", "until", "till", "first", "tomorrow", "tonight", "this evening",
    "though", "rather", "prefer", "als", "indien", "na", "nadat", "voordat", "eerst", "tot", "pas",
    "morgen", "vanavond", "vannacht", "vanmiddag", "liever",
];

/// "Maar" is Dutch for "but", and also a softener after a verb ("start maar opnieuw" is a plain
/// yes): it is a condition only when it opens its clause ("ja, maar …", "ja maar …").
const CONDITION_OPENING: &[&str] = &["maar"];

/// Phrases that hold a verdict word but say nothing about the request ("no worries", "tot
/// straks"): matched first so that their words do not count.
#[rustfmt::skip]
const NEUTRAL: &[&str] = &[
    "no worries", "no rush", "no hurry", "no need to ask", "dont worry", "do not worry",
    "dont forget", "do not forget", "dont hesitate", "thank you", "as soon as possible", "asap",
    "in the first place", "first of all", "geen haast", "geen zorgen", "maak je geen zorgen",
    "vergeet niet", "niet vergeten", "zo snel mogelijk", "zsm", "tot straks", "tot later",
    "tot zo", "tot morgen",
];

/// Words that may stand before an everyday verdict word in its clause: "that's fine", "looks ok
/// to me", "dat is prima", "vind ik prima".
#[rustfmt::skip]
const LEAD_INS: &[&str] = &[
    "and", "so", "also", "then", "well", "oh", "ah", "hi", "hello", "hey", "please", "thats",
    "that", "this", "its", "it", "is", "looks", "look", "sounds", "seems", "all", "totally",
    "perfectly", "quite", "really", "just", "i", "im", "am", "me", "for", "en", "dus", "ook",
    "dan", "nou", "hoi", "hallo", "dat", "het", "lijkt", "mij", "vind", "ik", "klinkt", "helemaal",
    "echt", "wel", "hoor", "voor", "gewoon",
];

/// Words that make a clause a question when they open it ("will it lose data", "kun je …").
#[rustfmt::skip]
const QUESTION_OPENERS: &[&str] = &[
    "what", "why", "how", "which", "when", "where", "who", "whom", "whose", "will", "would",
    "does", "do", "did", "can", "could", "is", "are", "was", "were", "should", "shall", "has",
    "have", "may", "might", "wat", "waarom", "hoe", "welke", "welk", "wanneer", "wie", "waarvoor",
    "waarmee", "wordt", "worden", "word", "kun", "kan", "kunt", "kunnen", "zijn", "gaat", "gaan",
    "moet", "moeten", "heeft", "hebben", "mag", "zal", "zou", "zullen", "doet",
];

/// Words that may stand before the question word: "and why did it hang".
#[rustfmt::skip]
const QUESTION_LEAD_INS: &[&str] = &[
    "and", "so", "but", "also", "then", "btw", "oh", "en", "dus", "maar", "ook", "dan", "nou",
];

/// Words that, before a number, name a time: "ok at 18:00" is a change of plan.
const TIME_WORDS: &[&str] = &["at", "around", "from", "om", "rond", "vanaf"];

/// Emoji that carry a verdict; each is a word of its own.
const EMOJI: &[char] = &[
    '👍', '👎', '✅', '❌', '✔', '☑', '👌', '✖', '⛔', '🛑', '🚫',
];

/// Lines of clawdbot's own approval mail, lower case. A letter-ending entry must be followed by
/// a non-letter ("Reason (the agent's words)", not "Reasonable, go ahead").
const TEMPLATE_PREFIXES: &[&str] = &[
    "will run,",
    "will run:",
    "hash:",
    "risk:",
    "deadline:",
    "reply key:",
    "summary:",
    "reason",
    "how to answer",
    "only a reply from an operator address",
    "the agent asks for approval of request",
    "subject:",
    "onderwerp:",
];

/// What a word or phrase of the lists does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Approve,
    Refuse,
    Negate,
    Postpone,
    Hedge,
    Retract,
    Condition,
    Neutral,
}

/// Where a listed word counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    /// Wherever it stands.
    Strong,
    /// Only when it opens its clause (after lead-ins and other cues).
    Opening,
    /// A condition that does not count inside a question about something else.
    Soft,
}

/// All lists, in matching order (a phrase is in one list only).
const LEXICON: &[(Cue, Weight, &[&str])] = &[
    (Cue::Neutral, Weight::Strong, NEUTRAL),
    (Cue::Approve, Weight::Strong, APPROVE),
    (Cue::Approve, Weight::Opening, APPROVE_OPENING),
    (Cue::Refuse, Weight::Strong, REFUSE),
    (Cue::Refuse, Weight::Opening, REFUSE_OPENING),
    (Cue::Negate, Weight::Strong, NEGATE),
    (Cue::Postpone, Weight::Strong, POSTPONE),
    (Cue::Hedge, Weight::Strong, HEDGE),
    (Cue::Retract, Weight::Strong, RETRACT),
    (Cue::Condition, Weight::Strong, CONDITION),
    (Cue::Condition, Weight::Soft, CONDITION_SOFT),
    (Cue::Condition, Weight::Opening, CONDITION_OPENING),
];

// ---------------------------------------------------------------------------------------------
// Which lines are the operator's.

/// The operator's own non-empty lines with their 1-based numbers in `text`, and how many lines
/// were left out as quoted or template text.
fn operator_lines(text: &str) -> (Vec<(usize, &str)>, usize) {
    let mut lines = Vec::new();
    let mut left_out = 0;
    for (index, raw) in text.lines().enumerate() {
        // A byte order mark is no text (iPhone Mail puts one before the quoted mail).
        let line = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if ends_reply(line) {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if line.starts_with('>') || is_quote_header(line) || is_template(line) {
            left_out += 1;
            continue;
        }
        lines.push((index + 1, line));
    }
    (lines, left_out)
}

/// A line after which nothing is the operator's answer: clawdbot's reply marker (everything
/// below it is clawdbot's mail), a signature delimiter, an Outlook separator.
fn ends_reply(line: &str) -> bool {
    let lower = line.to_lowercase();
    let outlook_rule = line.chars().count() >= 10 && line.chars().all(|c| c == '_');
    (lower.starts_with("--") && lower.contains("reply above this line"))
        || line == "--"
        || outlook_rule
        || (lower.starts_with("---") && lower.contains("original message"))
        || (lower.starts_with("---") && lower.contains("oorspronkelijk bericht"))
        || (lower.starts_with("---") && lower.contains("forwarded message"))
        || lower.starts_with("begin forwarded message")
}

/// "On Thu, 26 Nov 2026 at 10:15, clawdbot <…> wrote:", "Op do 26 nov 2026 om 10:15 schreef
/// clawdbot <…>:", "Op 26 nov. 2026 om 10:15 heeft clawdbot <…> het volgende geschreven:".
fn is_quote_header(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.ends_with("wrote:")
        || lower.ends_with("geschreven:")
        || (lower.starts_with("op ") && lower.contains("schreef") && lower.ends_with(':'))
}

/// A line of clawdbot's own mail. "Reply APPROVE or DENY" copied back must never approve, so
/// any line holding both capitalised words is the template, whatever surrounds it.
fn is_template(line: &str) -> bool {
    let lower = line.to_lowercase();
    let prefixed = TEMPLATE_PREFIXES.iter().any(|prefix| {
        lower.strip_prefix(prefix).is_some_and(|rest| {
            !prefix.ends_with(char::is_alphabetic) || !rest.starts_with(char::is_alphabetic)
        })
    });
    let mut words = line.split(|c: char| !c.is_alphanumeric());
    let both = words.clone().any(|w| w == "APPROVE") && words.any(|w| w == "DENY");
    prefixed || both
}

// ---------------------------------------------------------------------------------------------
// Words, clauses, sentences.

/// A sentence: its clauses (lists of normalised words), and whether it ends with "?".
#[derive(Debug, Default)]
struct Sentence {
    clauses: Vec<Vec<String>>,
    asks: bool,
}

/// What a character does to the word, clause and sentence around it.
enum CharClass {
    Letter,
    Emoji,
    Ignore,
    Space,
    ClauseEnd,
    SentenceEnd { asks: bool },
}

fn char_class(c: char) -> CharClass {
    match c {
        // Skin tones, variation selectors, joiners, combining accents: part of what precedes.
        '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{FE0E}'
        | '\u{FE0F}'
        | '\u{200D}'
        | '\u{0300}'..='\u{036F}' => CharClass::Ignore,
        // "don't" is one word, "dont".
        '\'' | '’' | '‘' | '`' | '´' => CharClass::Ignore,
        _ if EMOJI.contains(&c) => CharClass::Emoji,
        _ if c.is_alphanumeric() => CharClass::Letter,
        '?' | '？' => CharClass::SentenceEnd { asks: true },
        '.' | '!' | '…' | '！' | '。' => CharClass::SentenceEnd { asks: false },
        ',' | ';' | ':' | '(' | ')' | '[' | ']' | '{' | '}' | '/' | '\\' | '|' | '–' | '—'
        | '"' | '“' | '”' | '„' | '«' | '»' => CharClass::ClauseEnd,
        _ => CharClass::Space,
    }
}

/// The letter without its accent (of a lower-case letter).
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        _ => c,
    }
}

/// Collects words into clauses and clauses into sentences.
#[derive(Default)]
struct Splitter {
    sentences: Vec<Sentence>,
    sentence: Sentence,
    clause: Vec<String>,
    word: String,
}

impl Splitter {
    fn end_word(&mut self) {
        if !self.word.is_empty() {
            self.clause.push(std::mem::take(&mut self.word));
        }
    }

    fn end_clause(&mut self) {
        self.end_word();
        if !self.clause.is_empty() {
            self.sentence.clauses.push(std::mem::take(&mut self.clause));
        }
    }

    fn end_sentence(&mut self, asks: bool) {
        self.end_clause();
        self.sentence.asks |= asks;
        if !self.sentence.clauses.is_empty() {
            self.sentences.push(std::mem::take(&mut self.sentence));
        }
        // A "?" with no words before it ("Yes. ?") still asks nothing.
        self.sentence.asks = false;
    }
}

/// Cut one line into sentences of clauses of normalised words.
fn sentences(line: &str) -> Vec<Sentence> {
    let mut split = Splitter::default();
    for c in line.chars() {
        match char_class(c) {
            CharClass::Letter => split.word.extend(c.to_lowercase().map(fold)),
            CharClass::Emoji => {
                split.end_word();
                split.clause.push(c.to_string());
            }
            CharClass::Ignore => {}
            CharClass::Space => split.end_word(),
            CharClass::ClauseEnd => split.end_clause(),
            CharClass::SentenceEnd { asks } => split.end_sentence(asks),
        }
    }
    split.end_sentence(false);
    split.sentences
}

// ---------------------------------------------------------------------------------------------
// Cues found in a clause.

/// A phrase of the lists found at some place in a clause.
struct Match {
    cue: Cue,
    weight: Weight,
    words: usize,
    text: String,
}

/// The cue a normalised phrase stands for, if it is in a list.
fn lookup(phrase: &str) -> Option<(Cue, Weight)> {
    LEXICON
        .iter()
        .find(|(_, _, list)| list.contains(&phrase))
        .map(|(cue, weight, _)| (*cue, *weight))
}

/// The longest listed phrase starting at word `at`.
fn longest_match(words: &[String], at: usize) -> Option<Match> {
    let most = MAX_PHRASE_WORDS.min(words.len().saturating_sub(at));
    (1..=most).rev().find_map(|len| {
        let text = words.get(at..at + len)?.join(" ");
        lookup(&text).map(|(cue, weight)| Match {
            cue,
            weight,
            words: len,
            text,
        })
    })
}

/// What a hit says about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Approval,
    /// A refusal, or a negated approval ("not ok").
    Refusal,
    /// A negated refusal ("don't cancel"): no clear verdict either way.
    DoubleNegative,
    Postponement,
    Hedge,
    Retraction,
    Condition,
}

impl Kind {
    fn is_verdict(self) -> bool {
        matches!(
            self,
            Kind::Approval | Kind::Refusal | Kind::DoubleNegative | Kind::Postponement
        )
    }
}

/// A cue found in a clause.
#[derive(Debug, Clone)]
struct Hit {
    kind: Kind,
    text: String,
    /// A refusal that is also an everyday word ("no"), or a condition that is ("after").
    everyday: bool,
    /// The hit is the whole clause ("No.").
    alone: bool,
}

/// A negation waiting for an approval to negate.
struct Negation {
    /// Index of its first word in the clause.
    start: usize,
    /// Index of the first word it no longer reaches.
    until: usize,
    /// The refusal hit it is part of ("don't"), to merge with what it negates.
    hit: Option<usize>,
}

/// The cues of one clause.
fn clause_hits(words: &[String]) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    // Still at the opening of the clause: only lead-ins and cues so far.
    let mut opening = true;
    let mut negation: Option<Negation> = None;
    let mut at = 0;
    while at < words.len() {
        let Some(found) = longest_match(words, at) else {
            if let Some(time) = time_condition(words, at) {
                hits.push(hit(Kind::Condition, time, true, false));
            }
            opening &= LEAD_INS.contains(&words[at].as_str());
            at += 1;
            continue;
        };
        let end = at + found.words;
        let alone = found.words == words.len();
        let everyday = found.weight != Weight::Strong;
        let negated = negation.take_if(|n| at < n.until);
        match found.cue {
            // An everyday word in the middle of a sentence ("it answered fine") is no verdict.
            _ if found.weight == Weight::Opening && !opening => {}
            Cue::Neutral => opening = false,
            Cue::Negate => {
                negation = Some(Negation {
                    start: at,
                    until: end + NEGATION_REACH,
                    hit: None,
                });
            }
            Cue::Approve => match negated {
                Some(n) => {
                    let text = words[n.start..end].join(" ");
                    match n.hit.and_then(|index| hits.get_mut(index)) {
                        Some(refusal) => refusal.text = text,
                        None => hits.push(hit(Kind::Refusal, text, false, alone)),
                    }
                }
                None => hits.push(hit(Kind::Approval, found.text, everyday, alone)),
            },
            Cue::Refuse => match negated {
                Some(n) => {
                    let text = words[n.start..end].join(" ");
                    match n.hit.and_then(|index| hits.get_mut(index)) {
                        Some(earlier) => *earlier = hit(Kind::DoubleNegative, text, false, false),
                        None => hits.push(hit(Kind::DoubleNegative, text, false, false)),
                    }
                }
                None => {
                    if NEGATING_REFUSALS.contains(&found.text.as_str()) {
                        negation = Some(Negation {
                            start: at,
                            until: end + NEGATION_REACH,
                            hit: Some(hits.len()),
                        });
                    }
                    hits.push(hit(Kind::Refusal, found.text, everyday, alone));
                }
            },
            Cue::Postpone => hits.push(hit(Kind::Postponement, found.text, false, alone)),
            Cue::Hedge => hits.push(hit(Kind::Hedge, found.text, false, alone)),
            Cue::Retract => hits.push(hit(Kind::Retraction, found.text, false, alone)),
            Cue::Condition => hits.push(hit(Kind::Condition, found.text, everyday, alone)),
        }
        at = end;
    }
    hits
}

fn hit(kind: Kind, text: String, everyday: bool, alone: bool) -> Hit {
    Hit {
        kind,
        text,
        everyday,
        alone,
    }
}

/// "at 18", "om 18": a time named for the action is a change of plan.
fn time_condition(words: &[String], at: usize) -> Option<String> {
    let next = words.get(at + 1)?;
    let is_time = TIME_WORDS.contains(&words[at].as_str())
        && !next.is_empty()
        && next.chars().all(|c| c.is_ascii_digit());
    is_time.then(|| format!("{} {next}", words[at]))
}

/// The question word a clause opens with, if it does. A question word that begins a longer
/// listed phrase is that phrase instead ("do it", "is goed", "does not").
fn question_opener(words: &[String]) -> Option<&str> {
    let start = words
        .iter()
        .position(|w| !QUESTION_LEAD_INS.contains(&w.as_str()))?;
    let first = words[start].as_str();
    if !QUESTION_OPENERS.contains(&first) {
        return None;
    }
    match longest_match(words, start) {
        Some(found) if found.words > 1 => None,
        _ => Some(first),
    }
}

// ---------------------------------------------------------------------------------------------
// Cues of a line.

/// What one line of the reply says.
#[derive(Debug, Default)]
struct LineCues {
    /// 1-based, in the trimmed text.
    number: usize,
    hits: Vec<Hit>,
    /// "?" or the question word, for each question on the line.
    questions: Vec<String>,
}

impl LineCues {
    /// The texts of the hits of one kind, each once.
    fn texts(&self, kinds: &[Kind]) -> Vec<&str> {
        let mut texts: Vec<&str> = Vec::new();
        for hit in self.hits.iter().filter(|h| kinds.contains(&h.kind)) {
            if !texts.contains(&hit.text.as_str()) {
                texts.push(&hit.text);
            }
        }
        texts
    }

    fn has_verdict(&self) -> bool {
        self.hits.iter().any(|h| h.kind.is_verdict())
    }

    /// On a line other than the deciding one: what takes an approval back. An everyday refusal
    /// counts there only alone ("No."), not in chatter ("No need to tell me when it is done").
    fn contradictions(&self) -> Vec<&str> {
        let mut texts: Vec<&str> = Vec::new();
        for hit in &self.hits {
            let counts = match hit.kind {
                Kind::Refusal => !hit.everyday || hit.alone,
                Kind::DoubleNegative | Kind::Retraction => true,
                _ => false,
            };
            if counts && !texts.contains(&hit.text.as_str()) {
                texts.push(&hit.text);
            }
        }
        texts
    }
}

/// Find the cues of one line. Verdict words inside a question do not count (the operator asks
/// "is it ok?", he does not say it is); conditions do when the question is about the verdict
/// ("can you do it after 18:00?") or when they are strong ("but", "instead").
fn line_cues(number: usize, line: &str) -> LineCues {
    let mut cues = LineCues {
        number,
        ..LineCues::default()
    };
    for sentence in sentences(line) {
        for words in &sentence.clauses {
            let hits = clause_hits(words);
            let opener = question_opener(words);
            if !sentence.asks && opener.is_none() {
                cues.hits.extend(hits);
                continue;
            }
            let asked = opener.unwrap_or("?").to_string();
            if !cues.questions.contains(&asked) {
                cues.questions.push(asked);
            }
            let about_verdict = hits.iter().any(|h| h.kind.is_verdict());
            cues.hits.extend(
                hits.into_iter()
                    .filter(|h| h.kind == Kind::Condition && (!h.everyday || about_verdict)),
            );
        }
    }
    cues
}

// ---------------------------------------------------------------------------------------------
// The decision.

/// Decide from the cues of the operator's lines.
fn decide(lines: &[LineCues]) -> Verdict {
    if lines.is_empty() {
        return Verdict::new(
            Intent::Unclear,
            "The reply has no text of the operator's own.".to_string(),
        );
    }
    let window = &lines[..lines.len().min(LOOKAHEAD)];
    match window.iter().position(LineCues::has_verdict) {
        Some(at) => {
            let decided = line_verdict(&lines[at]);
            if decided.intent == Intent::Approve {
                challenge(decided, lines, at)
            } else {
                decided
            }
        }
        None => without_verdict(window),
    }
}

/// The verdict of the deciding line on its own.
fn line_verdict(line: &LineCues) -> Verdict {
    let n = line.number;
    let approvals = line.texts(&[Kind::Approval]);
    let refusals = line.texts(&[Kind::Refusal]);
    if !approvals.is_empty() && !refusals.is_empty() {
        return Verdict::new(
            Intent::Unclear,
            format!(
                "Line {n} both approves ({}) and refuses ({}).",
                quoted(&approvals),
                quoted(&refusals)
            ),
        );
    }
    if !refusals.is_empty() {
        return Verdict::new(
            Intent::Deny,
            format!("Line {n} refuses: {}.", quoted(&refusals)),
        );
    }
    let doubles = line.texts(&[Kind::DoubleNegative]);
    if !doubles.is_empty() {
        return Verdict::new(
            Intent::Unclear,
            format!("Line {n} has a double negative ({}).", quoted(&doubles)),
        );
    }
    let postponed = line.texts(&[Kind::Postponement]);
    if approvals.is_empty() {
        // Only a postponement is left: "not yet" is a no for now.
        return Verdict::new(
            Intent::Deny,
            format!("Line {n} postpones: {}.", quoted(&postponed)),
        );
    }
    let doubts = line.texts(&[Kind::Hedge, Kind::Retraction]);
    if !doubts.is_empty() {
        return Verdict::new(
            Intent::Unclear,
            format!(
                "Line {n} approves ({}) but hesitates ({}).",
                quoted(&approvals),
                quoted(&doubts)
            ),
        );
    }
    let changes = line.texts(&[Kind::Condition, Kind::Postponement]);
    if !changes.is_empty() {
        return Verdict::new(
            Intent::Modify,
            format!(
                "Line {n} approves ({}) with a condition or change ({}).",
                quoted(&approvals),
                quoted(&changes)
            ),
        );
    }
    Verdict::new(
        Intent::Approve,
        format!("Line {n} approves: {}.", quoted(&approvals)),
    )
}

/// The other lines may take an approval away, never give one: a refusal or retraction makes
/// it unclear, a condition or change makes it modify.
fn challenge(mut verdict: Verdict, lines: &[LineCues], deciding: usize) -> Verdict {
    for (index, line) in lines.iter().enumerate() {
        if index == deciding {
            continue;
        }
        let against = line.contradictions();
        if !against.is_empty() {
            verdict.intent = Intent::Unclear;
            verdict.reasons.push(format!(
                "Line {} goes against the approval: {}.",
                line.number,
                quoted(&against)
            ));
        }
        let changes = line.texts(&[Kind::Condition, Kind::Postponement]);
        if !changes.is_empty() {
            if verdict.intent == Intent::Approve {
                verdict.intent = Intent::Modify;
            }
            verdict.reasons.push(format!(
                "Line {} adds a condition or change: {}.",
                line.number,
                quoted(&changes)
            ));
        }
    }
    verdict
}

/// No line approves or refuses: a question, a hesitation, a bare condition, or nothing.
fn without_verdict(window: &[LineCues]) -> Verdict {
    if let Some(line) = window.iter().find(|l| !l.questions.is_empty()) {
        let asked: Vec<&str> = line.questions.iter().map(String::as_str).collect();
        return Verdict::new(
            Intent::Question,
            format!("Line {} asks a question ({}).", line.number, quoted(&asked)),
        );
    }
    let doubts = [Kind::Hedge, Kind::Retraction];
    if let Some(line) = window.iter().find(|l| !l.texts(&doubts).is_empty()) {
        return Verdict::new(
            Intent::Unclear,
            format!(
                "Line {} hesitates ({}) without approving or refusing.",
                line.number,
                quoted(&line.texts(&doubts))
            ),
        );
    }
    let conditions = [Kind::Condition];
    if let Some(line) = window.iter().find(|l| !l.texts(&conditions).is_empty()) {
        return Verdict::new(
            Intent::Modify,
            format!(
                "Line {} names a condition or change ({}) without a plain approval.",
                line.number,
                quoted(&line.texts(&conditions))
            ),
        );
    }
    let s = if window.len() == 1 { "" } else { "s" };
    Verdict::new(
        Intent::Unclear,
        format!(
            "No approval or refusal in the first {} line{s} of the reply.",
            window.len()
        ),
    )
}

/// `"yes", "go ahead"`.
fn quoted(texts: &[&str]) -> String {
    texts
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use Intent::{Approve, Deny, Modify, Question, Unclear};

    /// Trimmed replies and what a careful human reads in them, one group per rule.
    const CASES: &[(&str, Intent)] = &[
        // Approvals, English and Dutch, free of case, punctuation and accents.
        ("yes", Approve),
        ("Yes, go ahead.", Approve),
        ("APPROVE", Approve),
        ("Approved!", Approve),
        ("yep", Approve),
        ("OK", Approve),
        ("okay, do it", Approve),
        ("Fine by me.", Approve),
        ("Sure.", Approve),
        ("lgtm", Approve),
        ("Confirmed.", Approve),
        ("👍", Approve),
        ("👍🏽", Approve),
        ("✅", Approve),
        ("Ja", Approve),
        ("Akkoord.", Approve),
        ("Goedgekeurd", Approve),
        ("Prima!", Approve),
        ("Doe maar.", Approve),
        ("Ga je gang", Approve),
        ("Is goed", Approve),
        ("Oké", Approve),
        ("Oke\u{301}!", Approve),
        ("ÓK!!!", Approve),
        ("That's fine by me", Approve),
        ("Dat is prima", Approve),
        ("Ja, start hem maar opnieuw.", Approve),
        ("No problem, go ahead", Approve),
        ("Yes, no need to ask next time", Approve),
        ("Ja, doe maar. Tot straks!", Approve),
        ("Reasonable, go ahead", Approve),
        ("Sure, why not.", Approve),
        // Refusals.
        ("No.", Deny),
        ("nope", Deny),
        ("Deny", Deny),
        ("denied", Deny),
        ("Don't.", Deny),
        ("Do not restart it", Deny),
        ("Stop!", Deny),
        ("Rejected", Deny),
        ("cancel", Deny),
        ("👎", Deny),
        ("❌", Deny),
        ("Nee", Deny),
        ("Niet doen!", Deny),
        ("Geweigerd.", Deny),
        ("Afgewezen", Deny),
        ("Liever niet", Deny),
        ("The container is ok now, no need.", Deny),
        // Negation flips an approval into a refusal.
        ("not ok", Deny),
        ("Not approved.", Deny),
        ("Don't do it", Deny),
        ("I do not approve.", Deny),
        ("No, don't.", Deny),
        ("Niet akkoord.", Deny),
        ("Geen goedkeuring", Deny),
        ("It's not fine", Deny),
        ("Dat is niet prima", Deny),
        ("Nog niet", Deny),
        ("Not yet.", Deny),
        ("❌ not now", Deny),
        // Questions without a verdict.
        ("Why?", Question),
        ("What does it do to running searches?", Question),
        ("How long will it take", Question),
        ("Which container exactly?", Question),
        ("Will it lose data", Question),
        ("Does it need root", Question),
        ("Can you send me the logs first?", Question),
        ("Wat doet dit precies?", Question),
        ("Waarom", Question),
        ("Hoe lang duurt dat", Question),
        ("Welke container?", Question),
        ("Wordt de cache geleegd", Question),
        ("Kun je eerst de logs sturen", Question),
        ("Is it ok to restart during office hours?", Question),
        ("OK?", Question),
        ("Approve or deny?", Question),
        (
            "Why does it need a restart? It answered fine for me.",
            Question,
        ),
        ("Not sure, ok?", Question),
        // Approvals with a condition or change.
        ("Yes but use container searxng-2 instead", Modify),
        ("ok but only after 18:00", Modify),
        ("Ja maar eerst een backup", Modify),
        ("Alleen als de backup gelukt is", Modify),
        ("Ja, in plaats van searxng graag searxng-2", Modify),
        ("OK at 18:00", Modify),
        ("Approved, provided it is done before 11:00.", Modify),
        ("Not now, but ok after 18:00", Modify),
        ("Yes. Can you do it after 18:00?", Modify),
        ("Yes.\nBut only after the backup.", Modify),
        ("Only after 18:00:\nyes", Modify),
        // The first line with a verdict outweighs later text; other lines only take away.
        ("Yes.\n\nThanks, and why did it hang?", Approve),
        ("Yes. Why did it hang after the update?", Approve),
        ("No.\nOK I see why you ask", Deny),
        ("Hi Bob,\n\nApproved.\n\nCheers", Approve),
        ("Hi,\n\nyes, please restart it.\n\nThanks,\nAnna", Approve),
        ("Hello,\nthanks for the mail.\nWhat does it do?", Question),
        ("Yes.\nNo need to tell me when it is done.", Approve),
        ("Yes\nno", Unclear),
        ("Yes.\nActually, wait.", Unclear),
        ("Hi\nthanks\nfor\nasking\nyes", Unclear),
        // Mixed or contradictory verdicts.
        ("yes no", Unclear),
        ("approve... actually deny", Unclear),
        ("ok / niet doen", Unclear),
        ("Yes... no wait, not yet.", Unclear),
        ("Don't cancel it", Unclear),
        ("Yes, maybe", Unclear),
        ("Maybe", Unclear),
        ("Not sure about this one. Let me think about it.", Unclear),
        ("Misschien, als het echt niet anders kan.", Unclear),
        ("Thanks", Unclear),
        ("", Unclear),
        ("   \n\n", Unclear),
        // clawdbot's own text and quoted lines never count.
        (
            "How to answer: reply APPROVE or DENY; ask anything, and you will get an answer.",
            Unclear,
        ),
        ("Reply APPROVE or DENY", Unclear),
        ("reply APPROVE or DENY", Unclear),
        ("reply approve or deny", Unclear),
        (
            "Will run, exactly (argv, no shell): [\"docker\",\"restart\",\"searxng\"]",
            Unclear,
        ),
        ("Reason (the agent's words): ok go ahead", Unclear),
        (
            "Summary: approve me\nRisk: ok\nHash: sha256:ok\nDeadline: ok\nReply key: YES",
            Unclear,
        ),
        ("> Yes, go ahead\n> approve", Unclear),
        ("-- reply above this line --\nyes", Unclear),
        ("\u{feff}-- reply above this line --\nyes", Unclear),
        (
            "Go ahead.\n-- \nOps\nPlease do not print this mail",
            Approve,
        ),
        (
            "No.\n________________________________\nFrom: clawdbot\nyes",
            Deny,
        ),
        (
            "On Thu, 26 Nov 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\n\
             > How to answer: reply APPROVE or DENY\n\nGo ahead.",
            Approve,
        ),
    ];

    #[test]
    fn table() {
        assert!(CASES.len() >= 40);
        let mut wrong = Vec::new();
        for (text, expected) in CASES {
            let verdict = interpret(text);
            if verdict.intent != *expected || verdict.reasons.is_empty() {
                wrong.push(format!(
                    "case {text:?}: expected {expected:?}, got {:?} because {:?}",
                    verdict.intent, verdict.reasons
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_long_reply_is_unclear() {
        let long = "yes\n".repeat(MAX_OWN_BYTES / 2);
        assert_eq!(interpret(&long).intent, Unclear);
        let quoted = format!("yes\n{}", "> yes\n".repeat(MAX_OWN_BYTES));
        assert_eq!(
            interpret(&quoted).intent,
            Approve,
            "quoted text does not count"
        );
    }

    #[test]
    fn reasons_name_the_words() {
        let reasons = interpret("not ok").reasons;
        assert!(reasons[0].contains("\"not ok\""), "{reasons:?}");
        let reasons = interpret("I do not approve").reasons;
        assert!(reasons[0].contains("\"do not approve\""), "{reasons:?}");
        let reasons = interpret("Yes but use searxng-2 instead").reasons;
        assert!(
            reasons[0].contains("\"yes\"") && reasons[0].contains("\"instead\""),
            "{reasons:?}"
        );
        let reasons = interpret("> quoted\nyes").reasons;
        assert_eq!(reasons[1], "Left out 1 quoted or template line.");
    }

    #[test]
    fn intent_names() {
        for intent in [Approve, Deny, Question, Modify, Unclear] {
            let json = serde_json::to_string(&intent).unwrap();
            assert_eq!(json, format!("\"{}\"", intent.as_str()));
        }
        let verdict = serde_json::to_value(interpret("yes")).unwrap();
        assert_eq!(verdict["intent"], "approve");
    }

    /// Every listed phrase is written as the splitter produces it, within the length limit,
    /// and in one list only: otherwise it could never match, or match as the wrong cue.
    #[test]
    fn lexicon_is_normalised_and_disjoint() {
        let mut seen: Vec<&str> = Vec::new();
        for (cue, _, list) in LEXICON {
            for phrase in *list {
                let words: Vec<String> = sentences(phrase)
                    .into_iter()
                    .flat_map(|s| s.clauses)
                    .flatten()
                    .collect();
                assert_eq!(
                    words.join(" "),
                    *phrase,
                    "{cue:?} entry {phrase:?} is not normalised"
                );
                assert!(words.len() <= MAX_PHRASE_WORDS, "{phrase:?} is too long");
                assert!(!seen.contains(phrase), "{phrase:?} is in two lists");
                seen.push(phrase);
            }
        }
        for phrase in NEGATING_REFUSALS {
            assert_eq!(
                lookup(phrase).map(|(cue, _)| cue),
                Some(Cue::Refuse),
                "{phrase:?}"
            );
        }
    }

    /// The fixture replies whose body is plain text, with the quoted original cut off by a
    /// simple helper here, until the real trimmer and MIME decoding run end to end.
    #[test]
    fn plain_text_fixtures() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
        let expected = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
        let mut checked = 0;
        for row in expected.lines().filter(|l| !l.trim().is_empty()) {
            let (file, intent) = row.split_once('\t').unwrap();
            let mail = std::fs::read_to_string(dir.join(file)).unwrap();
            let Some(body) = plain_body(&mail) else {
                continue;
            };
            let reply = strip_quoted(&body);
            let verdict = interpret(&reply);
            assert_eq!(
                verdict.intent.as_str(),
                intent,
                "fixture {file}: reply {reply:?}, reasons {:?}",
                verdict.reasons
            );
            // Even untrimmed, the quoted original (with "reply APPROVE or DENY") must not count.
            let untrimmed = interpret(&body);
            assert_eq!(
                untrimmed.intent.as_str(),
                intent,
                "fixture {file} untrimmed: reasons {:?}",
                untrimmed.reasons
            );
            checked += 1;
        }
        assert!(checked >= 60, "only {checked} plain-text fixtures");
    }

    /// The body of a single-part text/plain mail in 7bit or 8bit; `None` for anything else.
    fn plain_body(mail: &str) -> Option<String> {
        let mail = mail.replace("\r\n", "\n");
        let (head, body) = mail.split_once("\n\n")?;
        let head = head.replace("\n ", " ").replace("\n\t", " ").to_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let plain = header("content-type:").is_none_or(|t| t.starts_with("text/plain"));
        let unencoded =
            header("content-transfer-encoding:").is_none_or(|e| e == "7bit" || e == "8bit");
        (plain && unencoded).then(|| body.to_string())
    }

    /// Drop quoted lines and quote headers, cut at an Outlook separator. Dropping rather than
    /// cutting at the first quote keeps the answer of a bottom-posted reply.
    fn strip_quoted(body: &str) -> String {
        let mut kept = Vec::new();
        for line in body.lines() {
            let t = line.trim();
            if t.starts_with("________________")
                || t.starts_with("-----Original Message-----")
                || t.starts_with("-----Oorspronkelijk bericht-----")
            {
                break;
            }
            if t.starts_with('>') || t.ends_with("wrote:") || t.ends_with("geschreven:") {
                continue;
            }
            if t.starts_with("Op ") && t.contains(" schreef ") && t.ends_with(':') {
                continue;
            }
            kept.push(line);
        }
        kept.join("\n")
    }
}

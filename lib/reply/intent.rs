//! Reading an operator's reply: approve only what says nothing but yes.
//!
//! The reader is closed, not a search. A reply approves only when all three hold:
//!
//! 1. **The decisive text is nothing but yes.** The decisive text is the operator's first
//!    block of own words, up to a signature delimiter, a separator line, a sign-off, the
//!    operator's name, a mobile footer or the quoted mail. Every word in it must belong to an
//!    approval phrase ([`APPROVE`]) or a filler ([`FILLERS`]: greetings, please and thanks,
//!    sign-offs), be one of the operator's own names, or be this request's id; at least one
//!    approval phrase must be there. Any other word, an emoji alone, or nothing at all is not
//!    an approval.
//! 2. **No veto anywhere the operator wrote.** Every line the operator wrote is scanned, not
//!    only the decisive text: below separators, in the signature, after "Sent from…", in the
//!    HTML part and in HTML nobody sees. A veto is a refusal, a negation, a question, a
//!    condition, an exclusion, a delay, a hedge, a retraction, an addition, a change, sarcasm
//!    or another request's id ([`VETOES`]). Past the decisive text, a line must also be a
//!    signature line (names, titles, numbers, links: [`SIGNATURE_WORDS`]) or say nothing but
//!    yes; any other line is the operator writing, and is asked again. Exempt are only the
//!    quoted mail (`>` lines and `<blockquote>` below a quiet attribution such as "On …
//!    wrote:", or holding the broker's reply marker; an unquoted original below an Outlook
//!    header block, only when it is the broker's mail and only up to its last line) and
//!    recognised boilerplate: a legal disclaimer's sentences, a "do not print" sentence, or a
//!    block the operator configured in `[operator] boilerplate`. Boilerplate approves nothing
//!    either.
//! 3. **Every body agrees.** A mail with a text part and an HTML part approves only when both
//!    do; an approval counts only in visible HTML text.
//!
//! Anything else is asked again. What kind of non-approval it is (deny, question, modify,
//! unclear) only chooses the answer the operator gets: a refusal with no approval phrase
//! denies, a question gets the request in full, the rest is asked again.
//!
//! Words are compared free of case, accents and apostrophes ("Oké" is "oke", "don't" is
//! "dont"), and phrases longest first ("no problem" is an approval, "of course not" a refusal).

use serde::Serialize;

use crate::reply::REPLY_MARKER;

/// What the operator meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Nothing but an approval: the request may run.
    Approve,
    /// A refusal, a negated approval, or "not yet".
    Deny,
    /// The operator asks something and gives no verdict.
    Question,
    /// An approval with a condition or a change: not an approval of the request as it stands.
    Modify,
    /// Empty, contradictory, hesitant, or not in the approval grammar.
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

/// What kind of word stops an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VetoKind {
    /// "no", "deny", "niet doen".
    Refusal,
    /// "not", "don't", "niet".
    Negation,
    /// "?", "why", "waarom".
    Question,
    /// "if", "only", "but", "mits".
    Condition,
    /// "except", "without", "behalve".
    Exclusion,
    /// "later", "tomorrow", "not yet", a time of day.
    Delay,
    /// "maybe", "I guess", "misschien".
    Hedge,
    /// "actually", "wait", "scratch that".
    Retraction,
    /// "also", "too", "ook".
    Addition,
    /// "instead", "change", "anders".
    Change,
    /// "when pigs fly", "yeah right", "fired".
    Sarcasm,
    /// The id of a request other than this one.
    OtherRequest,
    /// A word in letters of another script, which may only look like a word the reader knows.
    Unreadable,
}

/// Where the operator wrote a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    /// The decisive text.
    Decisive,
    /// Below it: after a separator, in the signature, after a footer, below the quote.
    Below,
    /// In HTML that a person does not see.
    Hidden,
    /// In the subject, where the operator changed it.
    Subject,
}

/// One word or phrase that keeps a reply from approving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Veto {
    /// What it does.
    pub kind: VetoKind,
    /// The words, normalised.
    pub words: String,
    /// Where they stand.
    pub place: Place,
    /// `text` or `html`.
    pub part: &'static str,
}

/// The intent, the rule that decided it, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What the operator meant.
    pub intent: Intent,
    /// The rule that decided, in a few words.
    pub rule: String,
    /// The approval phrases of the decisive text.
    pub approvals: Vec<String>,
    /// Every word that kept it from approving, with where it stands.
    pub vetoes: Vec<Veto>,
    /// Words of the decisive text outside the approval grammar.
    pub unknown: Vec<String>,
    /// Why, one short sentence each.
    pub reasons: Vec<String>,
}

/// What a reply is read against.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The id of the request it answers; any other id vetoes. Without it, the first id named
    /// is taken for it.
    pub request: Option<String>,
    /// The operator's own names (the From display name, `[operator] names`): fillers.
    pub names: Vec<String>,
    /// Blocks the operator's mail client adds to every mail (`[operator] boilerplate`).
    pub boilerplate: Vec<String>,
    /// The reply's subject: what the operator wrote into it is read for vetoes.
    pub subject: String,
    /// The name of the request's action ("restart_container"): its words may name what is
    /// approved ("Yes, restart it"), and never another action.
    pub action: String,
}

/// One body of a reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// An HTML part (converted), else a text part.
    pub html: bool,
    /// The text a person sees; quoted mail as `>` lines.
    pub visible: String,
    /// Text in the markup that a person does not see.
    pub hidden: String,
}

/// The most text of the operator's own that is read; a longer reply is unclear. Also bounds
/// the work done on a hostile mail.
const MAX_OWN_BYTES: usize = 64 * 1024;

/// Interpret plain text with no context (tests, benchmarks, `interpret` without a request).
pub fn interpret(text: &str) -> Verdict {
    read(
        &[Body {
            html: false,
            visible: text.to_string(),
            hidden: String::new(),
        }],
        &Context::default(),
    )
}

/// Read every body of a reply.
pub fn read(bodies: &[Body], context: &Context) -> Verdict {
    let mut names = name_words(&context.names);
    names.extend(
        normalised_words(&context.action)
            .into_iter()
            .filter(|w| lookup(w).is_none()),
    );
    let boilerplate: Vec<String> = context
        .boilerplate
        .iter()
        .map(|b| normalised_words(b).join(" "))
        .filter(|b| !b.is_empty())
        .collect();
    let mut ids = Ids::new(context.request.as_deref());
    let mut readings: Vec<BodyReading> = bodies
        .iter()
        .map(|body| read_body(body, &names, &boilerplate, &mut ids))
        .collect();
    let subject = operator_subject(&context.subject);
    if let Some(first) = readings.first_mut()
        && !subject.is_empty()
    {
        scan(subject, Place::Subject, "subject", &names, &mut ids, first);
    }
    combine(&readings)
}

/// The part of a reply's subject the operator wrote: past "Re:" and the like, a subject of the
/// broker's ("[clawdbot R-…] Approve? … (risk: high)") counts only for what follows it; any
/// other subject counts whole.
fn operator_subject(subject: &str) -> &str {
    let mut rest = subject.trim();
    loop {
        let lower = rest.to_lowercase();
        let prefix = [
            "re:", "aw:", "antw:", "fw:", "fwd:", "wg:", "sv:", "vs:", "doorst:", "tr:", "rif:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => rest = rest[p.len()..].trim_start(),
            None => break,
        }
    }
    if !rest.to_lowercase().starts_with("[clawdbot") {
        return rest;
    }
    let Some(close) = rest.find(']') else {
        return rest;
    };
    let after = rest[close + 1..].trim();
    let lower = after.to_lowercase();
    if lower.starts_with("approve?") {
        // The broker's subject always ends "(risk: …)": without it, it was edited, and what
        // follows "Approve?" is the operator's.
        return match after.rfind("(risk:") {
            Some(at) => after[at..]
                .find(')')
                .map_or(after, |end| after[at + end + 1..].trim()),
            None => after["approve?".len()..].trim(),
        };
    }
    // The broker's other subjects in a request's thread.
    const OURS: &[&str] = &[
        "reminder",
        "denied",
        "done",
        "failed",
        "expired",
        "too late",
        "approve or deny?",
        "your question",
        "outcome unknown",
        "digest:",
        "a question",
        "running",
        "confirm to run",
    ];
    if OURS.iter().any(|o| lower.starts_with(o)) {
        ""
    } else {
        after
    }
}

// ---------------------------------------------------------------------------------------------
// Word lists. Entries are normalised: lower case, no accents, no apostrophes ("dont", "oke"),
// words separated by one space; a test checks this, and that no phrase is in two lists.

/// The longest phrase in the lists, in words.
const MAX_PHRASE_WORDS: usize = 8;

/// Approval phrases: the decisive text needs one, and may hold nothing else but fillers.
#[rustfmt::skip]
pub const APPROVE: &[&str] = &[
    "yes", "yes please", "yeah", "yep", "yup", "yea", "aye", "ok", "okay", "okey", "oke", "okie",
    "k", "alright", "all right", "sure", "sure thing", "approve", "approved", "i approve",
    "approve it", "approve this", "approved it", "approval granted", "you have my approval",
    "go ahead", "go for it", "good to go", "green light", "do it", "just do it", "please do",
    "proceed", "please proceed", "you may proceed", "you can proceed", "you may go ahead",
    "you can go ahead", "feel free", "lgtm", "looks good", "looks good to me", "looks fine",
    "looks ok", "sounds good", "sounds fine", "fine", "fine by me", "fine with me", "ok by me",
    "ok with me", "ok for me", "works for me", "thats fine", "that is fine", "thats ok",
    "that is ok", "all good", "confirmed", "i confirm", "confirm", "agreed", "granted",
    "accepted", "of course", "certainly", "absolutely", "definitely", "by all means",
    "no problem", "no objection", "no objections", "ship it", "make it so", "yes go ahead",
    "approved from my side", "run it", "apply it", "execute it", "run that", "do that",
    "go ahead and run it", "go ahead and do it", "go", "ok to proceed", "do it now",
    "go ahead now", "proceed now", "doe het nu", "doe maar nu", "lijkt me verstandig",
    "youre good to go", "you are good to go", "im ok with this", "im fine with this",
    "im ok with it", "im fine with it", "i am ok with this", "i am fine with this",
    "go ahead with it", "go ahead with this", "affirmative", "not a problem",
    "no problem at all", "i dont mind", "you have my ok", "im fine with that",
    "im ok with that", "sounds good to me", "thats okay", "that is okay", "mag van mij",
    "tuurlijk", "jup", "groen licht", "yes please do",
    // Dutch from here
    "ja", "jazeker", "jawel", "jep", "ja hoor", "ja graag", "graag", "akkoord", "goedgekeurd",
    "goedkeuring gegeven", "goedkeuring verleend", "ik keur het goed", "keur ik goed",
    "doe maar", "doe het maar", "doe het", "doe dat maar", "doe dat", "ga je gang",
    "ga uw gang", "ga je gang maar", "ga maar", "ga door", "ga maar door", "ga verder",
    "geen bezwaar", "geen probleem", "voer maar uit", "voer het uit", "voer het maar uit",
    "zeker", "zeker weten", "natuurlijk", "uiteraard", "prima", "is goed", "is prima",
    "dat is goed", "dat is prima", "dat is oke", "is oke", "kan prima", "in orde", "akkoord hoor",
    "helemaal goed", "mag", "dat mag", "mag doorgaan", "mag uitgevoerd worden", "doen",
    "uitvoeren", "goed", "lijkt me goed", "lijkt me prima", "klinkt goed",
    "start maar", "akkoord van mij", "okido", "okee", "oki", "okidoki", "toestemming gegeven",
    "je hebt mijn goedkeuring", "ik ga akkoord", "mee eens", "voer uit", "gaan met die banaan",
    "herstart maar", "herstarten maar", "uitvoeren maar", "installeer maar", "draai maar",
    "voer maar uit hoor",
];

/// Words that may stand around an approval in the decisive text and say nothing of their own.
#[rustfmt::skip]
pub const FILLERS: &[&str] = &[
    "hi", "hello", "hey", "dear", "hi there", "hello there", "good morning", "good afternoon",
    "good evening", "please", "pls", "plz", "thanks", "thank you", "thx", "ty",
    "thanks a lot", "many thanks", "thank you very much", "thanks very much", "much appreciated",
    "appreciated", "cheers", "regards", "best", "best regards", "kind regards", "warm regards",
    "best wishes", "all the best", "sincerely", "have a nice day", "have a good day",
    "thanks for asking", "thanks for checking", "thanks for the heads up", "and", "so", "then",
    "well", "just", "it", "this", "that", "the", "request", "this request", "that request",
    "is", "its", "me", "for me", "by me", "from me", "from my side", "on my side",
    "clawdbot", "bot", "team", "all", "sir", "no rush", "no hurry", "ah",
    "really", "very", "fully", "indeed", "right away", "asap", "thanks again",
    "no worries", "thanks for flagging", "good catch", "keep me posted",
    "let me know when its done", "let me know when done", "good luck", "thanks in advance",
    "with kind regards", "succes", "veel succes", "makes sense", "as requested", "on my end",
    "thanks for taking care of it", "thanks for handling this", "thanks for handling it",
    "thanks a bunch", "merci", "goed idee", "goed plan", "hey there", "warmly", "ta", "tnx",
    "have a nice weekend", "have a good weekend", "have a good one", "have a good evening",
    "have a nice day", "have a great day", "fijn weekend", "fijne avond", "fijne dag verder",
    "the sooner the better", "hoe eerder hoe beter", "let me know how it goes",
    "let me know once its done", "let me know once done", "thanks for asking first",
    "laat maar weten hoe het gaat", "laat even weten als het klaar is", "laat me weten hoe het gaat",
    "zo snel mogelijk", "joh", "clawd", "dank voor het melden", "dank voor de melding",
    "bedankt voor de melding", "bedankt voor het melden", "houd me op de hoogte",
    "good", "great", "perfect", "excellent", "super", "awesome", "nice", "cool", "top",
    // A reaction beside words; alone it approves nothing, since a filler is no approval.
    "👍", "✅", "👌", "✔", "☑", "🙂", "😊", "🙏", "💪", "👏", "🚀", "😀", "😃", "👆",
    // Dutch from here
    "hoi", "hai", "hallo", "beste", "bedankt voor het checken", "dank voor het checken", "goedemorgen", "goedemiddag", "goedenavond", "hee",
    "bedankt", "dank", "dank je", "dank je wel", "dank u", "dank u wel", "dankjewel",
    "dankuwel", "alvast bedankt", "groet", "groeten", "gr", "grt", "mvg",
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet",
    "vriendelijke groeten", "hartelijke groet", "hartelijke groeten", "fijne dag", "fijne dag nog",
    "en", "dan", "nou", "hoor", "het", "dit", "dat", "deze", "verzoek", "aanvraag", "van mij",
    "van mijn kant", "wat mij betreft", "voor mij", "gewoon", "maar gewoon", "echt", "helemaal",
    "geen haast", "direct", "meteen", "groetjes", "gr en dank", "tot ziens",
    "bedankt voor het vragen", "dank voor het vragen", "mooi", "fijn",
];

/// Vetoes: wherever the operator wrote one of these, the reply does not approve.
#[rustfmt::skip]
pub const VETOES: &[(VetoKind, &[&str])] = &[
    (VetoKind::Refusal, &[
        "no", "nope", "nah", "nay", "deny", "denied", "i deny", "reject", "rejected", "refuse",
        "refused", "decline", "declined", "cancel", "canceled", "cancelled", "abort", "stop",
        "halt", "veto", "vetoed", "disapprove", "disapproved", "forbid", "forbidden", "never",
        "never mind", "nevermind", "no way", "no go", "no thanks", "no thank you", "hell no",
        "absolutely not", "certainly not", "of course not", "definitely not", "over my dead body",
        "negative", "dont", "do not", "do it myself", "denial", "refusal", "rejection",
        "revoke", "revoked", "forget it", "scrap that", "scrap it", "nvm", "handle it myself",
        "let us not", "lets not", "id rather you didnt", "please hold", "leave it",
        "leave postfix alone", "laat het", "laat maar zitten",
        "nein", "nicht", "non", "laat staan", "laat zitten", "herroepen", "ingetrokken",
        "nee", "neen", "nee hoor", "nee dank je", "niet doen", "niet uitvoeren", "liever niet",
        "niet akkoord", "geen akkoord", "geen goedkeuring", "geen toestemming", "geweigerd",
        "weiger", "ik weiger", "weigeren", "afgewezen", "afgekeurd", "afwijzen", "annuleer",
        "annuleren", "geannuleerd", "stoppen", "nooit", "laat maar", "zeker niet",
        "absoluut niet", "natuurlijk niet", "toch niet", "doe ik zelf", "ik doe het zelf",
        "👎", "❌", "✖", "⛔", "🛑", "🚫",
    ]),
    (VetoKind::Negation, &[
        "not", "doesnt", "does not", "didnt", "did not", "isnt", "arent", "wasnt", "werent",
        "cant", "cannot", "wont", "wouldnt", "shouldnt", "couldnt", "havent", "hasnt", "hadnt",
        "aint", "nothing", "nobody", "none", "neither", "nor", "niet", "geen", "niets", "niks",
        "dont do it", "do not do it", "dont do that", "dont approve", "do not approve",
        "not approved", "not ok", "not okay", "not fine", "niet goedgekeurd", "keur ik niet goed",
        "noch", "nimmer",
    ]),
    (VetoKind::Question, &[
        "why", "what", "how", "which", "who", "whom", "whose", "where", "does", "did",
        "should", "could", "would", "shall", "might", "whats", "hows", "eta", "waarom", "wat", "hoe",
        "welke", "welk", "wie", "waar", "waarvoor", "waarmee", "waardoor", "hoezo", "kun je",
        "kunt u", "kan je", "kan dat", "moet", "moeten", "zou", "zouden",
    ]),
    (VetoKind::Condition, &[
        "if", "only", "unless", "but", "provided", "providing", "as long as", "on condition",
        "assuming", "when", "whenever", "once", "however", "though", "although", "condition",
        "conditions", "require", "requires", "required", "make sure", "ensure", "check",
        "als", "indien", "mits", "tenzij", "alleen", "maar", "zolang", "wanneer", "zodra",
        "echter", "voorwaarde", "op voorwaarde", "zorg", "controleer",
    ]),
    (VetoKind::Exclusion, &[
        "except", "excluding", "exclude", "without", "skip", "apart from", "other than",
        "all but", "behalve", "zonder", "uitgezonderd", "overslaan", "buiten",
    ]),
    (VetoKind::Delay, &[
        "later", "tomorrow", "tonight", "yet", "soon", "after", "afterwards", "before", "until",
        "till", "first", "wait", "hold", "hold off", "on hold", "pause", "postpone", "delay",
        "next week", "next month", "weekend", "monday", "tuesday", "wednesday", "thursday",
        "friday", "saturday", "sunday", "evening", "tonite", "moment", "hour", "hours",
        "minutes", "schedule", "scheduled", "straks", "morgen", "vanavond", "vannacht",
        "vanmiddag", "nog", "pas", "na", "nadat", "voordat", "tot", "totdat", "eerst", "wacht",
        "wachten", "even niet", "wacht even", "uitstellen", "volgende week", "maandag", "dinsdag",
        "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "uur", "minuten", "avond",
        "nacht", "ochtend", "eod", "cob", "eow", "noon", "midnight", "lunch", "lunchtime",
        "lunchtijd", "lunchpauze", "overnight", "window", "off peak", "beforehand", "vooraf",
        "middag", "tonights", "asap tomorrow", "in a bit", "in a minute", "minute", "min",
        "next",
    ]),
    (VetoKind::Hedge, &[
        "not sure", "not certain", "let me think", "im not sure", "no idea", "dont know",
        "do not know", "geen idee", "niet zeker", "weet niet", "weet ik niet", "maybe", "perhaps", "possibly", "probably", "unsure", "guess", "suppose", "think",
        "believe", "hope", "doubt", "idk", "dunno", "misschien", "wellicht",
        "mogelijk", "waarschijnlijk", "denk", "twijfel", "weet", "hoop", "geloof", "hmm", "hm",
        "uh", "uhm", "ehm", "euh",
    ]),
    (VetoKind::Retraction, &[
        "actually", "scratch that", "second thought", "second thoughts", "hang on", "oops",
        "sorry", "mistake", "wrong", "ignore", "disregard", "undo", "revert", "retract",
        "bij nader inzien", "toch", "vergeet", "vergissing", "fout", "negeer", "terugdraaien",
        "already", "obsolete", "resolved", "fixed", "meanwhile", "no longer", "not needed",
        "solved", "opgelost", "inmiddels", "al gedaan", "niet meer nodig", "reflection",
    ]),
    (VetoKind::Addition, &[
        "also", "too", "as well", "additionally", "plus", "and then", "extra", "another",
        "more", "ook", "daarna", "erna", "eveneens", "bovendien", "tevens", "nog een",
    ]),
    (VetoKind::Change, &[
        "instead", "instead of", "rather", "rather than", "change", "changed", "modify",
        "modified", "different", "differently", "other", "alternative", "replace", "use",
        "prefer", "preferably", "ideally", "better", "best on", "liefst", "liefste",
        "but use", "anders", "ander", "andere", "wijzig", "wijzigen", "verander",
        "veranderen", "aanpassen", "liever", "in plaats van", "ipv", "gebruik",
    ]),
    (VetoKind::Sarcasm, &[
        "yeah right", "when pigs fly", "fired", "kidding", "joking", "joke", "jk", "lol",
        "haha", "hahaha", "lmao", "rofl", "sarcasm", "as if", "dream on", "in your dreams",
        "you wish", "grapje", "geintje", "ontslagen", "dacht het niet", "mooi niet",
        "ammehoela", "echt niet", "sure sure", "😉", "😜", "🙃", "totally", "oh yeah", "😬",
        "🤞", "🤷", "😅", "🙈", "🤔", "😒", "😑", "🤨", "🙄", "whatever", "nice try", "ja dag",
        "right", "s",
    ]),
];

/// Sign-off lines: the decisive text ends there, and what follows is the signature.
#[rustfmt::skip]
const SIGN_OFFS: &[&str] = &[
    "thanks", "thank you", "thx", "cheers", "regards", "best", "best regards", "kind regards",
    "warm regards", "many thanks", "all the best", "sincerely", "yours", "br", "rgds",
    "groet", "groeten", "groetjes", "gr", "grt", "mvg", "met vriendelijke groet",
    "met vriendelijke groeten", "vriendelijke groet", "vriendelijke groeten",
    "hartelijke groet", "hartelijke groeten", "bedankt", "dank", "dank je", "dank je wel",
    "dank u", "dank u wel", "groet en dank", "warmly", "ta", "tnx", "merci", "cheers then",
];

/// Mobile and webmail footers, matched at the start of a line, lower case.
#[rustfmt::skip]
const FOOTERS: &[&str] = &[
    "sent from ", "sent with ", "sent via ", "sent using ", "sent by ", "get outlook for ",
    "typed on ", "excuse brevity", "excuse the brevity", "please excuse",
    "verzonden vanaf ", "verstuurd vanaf ", "verzonden met ", "verstuurd met ",
    "verzonden vanuit ", "verstuurd vanuit ", "outlook voor ", "von meinem ",
    "gesendet von ", "envoyé de mon ", "download outlook for ",
];

/// Words that mark a paragraph as a legal disclaimer (two different ones are needed).
#[rustfmt::skip]
const DISCLAIMER_MARKERS: &[&str] = &[
    "confidential", "privileged", "intended recipient", "intended only", "intended solely",
    "addressee", "notify the sender", "disclaimer", "unauthorised", "unauthorized",
    "liability", "legally", "vertrouwelijk", "geadresseerde", "uitsluitend bestemd",
    "afzender", "aansprakelijk", "aansprakelijkheid", "onbevoegd", "bestemd voor",
];

/// The words a disclaimer's other sentences are made of ("E-mail transmission cannot be
/// guaranteed to be secure or error-free."): a sentence of these alone is boilerplate too.
#[rustfmt::skip]
const DISCLAIMER_WORDS: &[&str] = &[
    "e", "mail", "email", "emails", "message", "messages", "this", "the", "a", "an", "and",
    "or", "of", "to", "be", "is", "are", "any", "its", "it", "in", "by", "for", "on", "as",
    "may", "not", "cannot", "can", "no", "guaranteed", "secure", "error", "free", "transmission",
    "views", "opinions", "expressed", "presented", "those", "author", "sender", "solely",
    "necessarily", "represent", "company", "contain", "contains", "viruses", "virus",
    "attachments", "attachment", "information", "accept", "accepts", "responsibility",
    "damage", "caused", "loss", "arising", "use", "from", "we", "our", "you", "your", "that",
    "dit", "deze", "het", "de", "een", "en", "van", "voor", "niet", "geen", "kan",
    "kunnen", "worden", "wordt", "bericht", "berichten", "informatie", "bijlagen", "bijlage",
    "verzender", "virussen", "schade", "gebruik", "staat", "aan", "door", "uit",
];

/// Footers that ask not to print the mail.
#[rustfmt::skip]
const PRINT_FOOTERS: &[&str] = &[
    "please do not print", "please consider the environment", "think before you print",
    "think of the environment", "denk aan het milieu", "print deze e mail niet",
    "print deze email niet", "print dit bericht niet", "please dont print", "save a tree",
    "only print if necessary", "only print when necessary",
];

// ---------------------------------------------------------------------------------------------
// Words.

/// What a character does to the word and clause around it.
enum CharClass {
    Letter,
    Emoji,
    Ignore,
    Space,
    ClauseEnd,
    Question,
}

/// Emoji: each is a word of its own.
fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{1F300}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}'
        | '\u{1F000}'..='\u{1F2FF}')
}

fn char_class(c: char) -> CharClass {
    match c {
        // Skin tones, variation selectors, joiners, combining accents, soft hyphens and
        // zero-width spaces: part of what precedes.
        '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{200B}'..='\u{200D}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{2060}'..='\u{2064}'
        | '\u{180E}'
        | '\u{FEFF}'
        | '\u{034F}'
        | '\u{00AD}'
        | '\u{0300}'..='\u{036F}' => CharClass::Ignore,
        // "don't" is one word, "dont".
        '\'' | '’' | '‘' | '`' | '´' | 'ʼ' | '＇' | 'ʹ' | '′' => CharClass::Ignore,
        '?' | '？' | '¿' | '⁇' | '❓' | '❔' | '⸮' | '⁉' | '‽' | '⁈' | '؟' | '﹖' => {
            CharClass::Question
        }
        _ if is_emoji(c) => CharClass::Emoji,
        _ if c.is_alphanumeric() => CharClass::Letter,
        _ if c.is_whitespace() => CharClass::Space,
        '-' | '_' | '&' | '+' | '*' | '~' | '#' => CharClass::Space,
        _ => CharClass::ClauseEnd,
    }
}

/// Full-width forms as the ASCII they stand for ("ＮＯ" is "NO").
fn narrow(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// A letter or digit outside the Latin script: Cyrillic "о" in "nо", Greek, mathematical
/// bold, Hangul fillers. A word holding one is not read as what it looks like.
fn foreign(c: char) -> bool {
    c.is_alphanumeric() && !(c <= '\u{024F}' || ('\u{1E00}'..='\u{1EFF}').contains(&c))
}

/// The word standing for one in a foreign script.
const UNREADABLE: &str = "unreadableword";

/// "nooooo" is "no", "yesss" is "yes": a letter three times or more counts once.
fn collapse(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == chars[i] {
            run += 1;
        }
        let keep = if run >= 3 { 1 } else { run };
        out.extend(std::iter::repeat_n(chars[i], keep));
        i += run;
    }
    out
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

/// A line cut into clauses of normalised words, and whether it asks something ("?").
#[derive(Debug, Default)]
struct Words {
    clauses: Vec<Vec<String>>,
    asks: bool,
}

fn words(line: &str) -> Words {
    let mut out = Words::default();
    let mut clause: Vec<String> = Vec::new();
    let mut word = String::new();
    let end_word = |word: &mut String, clause: &mut Vec<String>| {
        if !word.is_empty() {
            let taken = std::mem::take(word);
            if taken.chars().any(foreign) {
                clause.push(UNREADABLE.to_string());
            } else {
                clause.push(collapse(&taken));
            }
        }
    };
    for c in line.chars().map(narrow) {
        match char_class(c) {
            CharClass::Letter => word.extend(c.to_lowercase().map(fold)),
            CharClass::Emoji => {
                end_word(&mut word, &mut clause);
                clause.push(c.to_string());
            }
            CharClass::Ignore => {}
            CharClass::Space => end_word(&mut word, &mut clause),
            CharClass::ClauseEnd | CharClass::Question => {
                if matches!(char_class(c), CharClass::Question) {
                    out.asks = true;
                }
                end_word(&mut word, &mut clause);
                if !clause.is_empty() {
                    out.clauses.push(std::mem::take(&mut clause));
                }
            }
        }
    }
    end_word(&mut word, &mut clause);
    if !clause.is_empty() {
        out.clauses.push(clause);
    }
    out
}

/// All normalised words of a text, in order.
fn normalised_words(text: &str) -> Vec<String> {
    words(text).clauses.into_iter().flatten().collect()
}

fn name_words(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        // Initials sign too: "A." and "AdV" for Anna de Vries.
        let words = normalised_words(name);
        let initials: String = words.iter().filter_map(|w| w.chars().next()).collect();
        for initial in [
            words.first().and_then(|w| w.get(..1)).map(str::to_string),
            Some(initials),
        ]
        .into_iter()
        .flatten()
        {
            if !initial.is_empty() && !out.contains(&initial) && lookup_veto(&initial).is_none() {
                out.push(initial);
            }
        }
        for word in normalised_words(name) {
            // Initials and particles ("A.", "de") are names too; one letter is not enough
            // to hide a word, and none is a veto.
            if !out.contains(&word) && lookup_veto(&word).is_none() {
                out.push(word);
            }
        }
    }
    out
}

/// A listed phrase found in a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Approve,
    Filler,
    Veto(VetoKind),
}

fn lookup_veto(phrase: &str) -> Option<VetoKind> {
    VETOES
        .iter()
        .find(|(_, list)| list.contains(&phrase))
        .map(|(kind, _)| *kind)
}

fn lookup(phrase: &str) -> Option<Cue> {
    if APPROVE.contains(&phrase) {
        return Some(Cue::Approve);
    }
    if let Some(kind) = lookup_veto(phrase) {
        return Some(Cue::Veto(kind));
    }
    FILLERS.contains(&phrase).then_some(Cue::Filler)
}

/// The longest listed phrase starting at word `at`, with its length in words.
fn longest(words: &[String], at: usize) -> Option<(Cue, usize)> {
    let most = MAX_PHRASE_WORDS.min(words.len().saturating_sub(at));
    (1..=most).rev().find_map(|len| {
        let phrase = words.get(at..at + len)?.join(" ");
        lookup(&phrase).map(|cue| (cue, len))
    })
}

/// The words that stand for this request's id and for another's, after [`Ids::mark`].
const SELF_ID: &str = "thisrequestid";
const OTHER_ID: &str = "otherrequestid";

/// Request ids named in the reply.
struct Ids {
    this: Option<String>,
}

impl Ids {
    fn new(request: Option<&str>) -> Ids {
        Ids {
            this: request.map(str::to_ascii_uppercase),
        }
    }

    /// Replace each request id in `line` by [`SELF_ID`] or [`OTHER_ID`]. Without a known
    /// request, the first id named is taken for it.
    fn mark(&mut self, line: &str) -> String {
        let bytes = line.as_bytes();
        let mut out = String::with_capacity(line.len());
        let mut i = 0;
        let mut copied = 0;
        while i + 15 <= bytes.len() {
            let starts = matches!(bytes[i], b'R' | b'r')
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                && bytes.get(i + 15).is_none_or(|b| !b.is_ascii_alphanumeric());
            let candidate = if starts { line.get(i..i + 15) } else { None };
            match candidate.and_then(crate::platform::ids::RequestId::parse) {
                Some(id) => {
                    let id = id.as_str().to_string();
                    let this = self.this.get_or_insert_with(|| id.clone());
                    let word = if *this == id { SELF_ID } else { OTHER_ID };
                    out.push_str(&line[copied..i]);
                    out.push(' ');
                    out.push_str(word);
                    out.push(' ');
                    i += 15;
                    copied = i;
                }
                _ => i += 1,
            }
        }
        out.push_str(&line[copied..]);
        out
    }
}

/// A line without its links and addresses: `?` in a URL asks nothing.
fn without_links(line: &str) -> String {
    line.split_whitespace()
        .filter(|token| {
            let lower = token.to_ascii_lowercase();
            !(lower.contains("://")
                || lower.starts_with("www.")
                || lower.starts_with("<www.")
                || lower.starts_with("mailto:")
                || lower.starts_with("<mailto:")
                || (lower.contains('@') && lower.contains('.')))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// "18:00", "6pm", "9.30u", "10h": a time of day is a delay.
fn time_of_day(line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i - start > 2 {
            continue;
        }
        let rest: String = chars[i..].iter().take(5).collect::<String>().to_lowercase();
        let clock = rest.len() >= 3
            && matches!(rest.chars().next(), Some(':' | '.'))
            && rest.chars().skip(1).take(2).all(|c| c.is_ascii_digit())
            && rest.chars().nth(3).is_none_or(|c| !c.is_ascii_digit());
        let suffix = ["am", "pm", " am", " pm", "u ", "uur", " uur", "h "]
            .iter()
            .any(|s| rest.starts_with(s))
            || rest == "u"
            || rest == "h";
        if clock || suffix {
            let end = (i + 3).min(chars.len());
            return Some(
                chars[start..end]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string(),
            );
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Which lines are the operator's.

/// What a line of a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// The operator's first block of own words.
    Decisive,
    /// The operator's other words: scanned for vetoes only.
    Below,
    /// Quoted mail, quote headers, separators, footers, boilerplate: neither.
    Exempt,
}

/// Where the reader is in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No own words yet.
    Before,
    /// In the decisive text.
    Deciding,
    /// Past it.
    After,
    /// In an unquoted original below a quote header: the rest is not the operator's.
    Original,
}

fn clean(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}')
}

/// The lines of a body with their regions.
fn regions<'t>(text: &'t str, names: &[String]) -> Vec<(Region, &'t str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut stage = Stage::Before;
    let mut after_blank = false;
    // `>` lines count as quoted only below an attribution: typed at the top, they are the
    // operator's own.
    let mut quoting = false;
    let mut i = 0;
    while i < lines.len() {
        let line = clean(lines[i]);
        let raw = lines[i];
        i += 1;
        if stage == Stage::Original {
            out.push((Region::Exempt, raw));
            // The broker's mail ends with a known line; what follows it is the operator's.
            let lower = line.to_lowercase();
            if lower.ends_with("and hash.") || lower.ends_with("lists them too.") {
                stage = Stage::After;
            }
            continue;
        }
        if line.is_empty() {
            after_blank = true;
            out.push((Region::Exempt, raw));
            continue;
        }
        let blank_before = std::mem::take(&mut after_blank);
        // A `>` block that holds the broker's reply marker is its mail, attribution or not.
        let quoted_line = |l: &str| l.trim_start_matches('\u{feff}').starts_with('>');
        if quoted_line(raw) && !quoting {
            quoting = lines[i - 1..]
                .iter()
                .take_while(|l| quoted_line(l))
                .take(6)
                .any(|l| clean(l).trim_start_matches('>').trim() == REPLY_MARKER);
        }
        // A space-stuffed " >" (format=flowed) is text, not a quote.
        if raw.trim_start_matches('\u{feff}').starts_with('>') && quoting {
            if stage == Stage::Deciding {
                stage = Stage::After;
            }
            out.push((Region::Exempt, raw));
            continue;
        }
        if let Some(header_lines) = quote_header(&lines[i - 1..]) {
            let rest = &lines[i - 1 + header_lines..];
            let next = rest.iter().map(|l| clean(l)).find(|l| !l.is_empty());
            let quoted_below = next.is_some_and(|l| l.starts_with('>'));
            // An original below the header, unquoted, must be the broker's own mail.
            if quoted_below || broker_mail_follows(rest) {
                for header in &lines[i - 1..i - 1 + header_lines] {
                    out.push((Region::Exempt, *header));
                }
                i += header_lines - 1;
                if stage == Stage::Deciding {
                    stage = Stage::After;
                }
                quoting = true;
                if !quoted_below {
                    stage = Stage::Original;
                }
                continue;
            }
        }
        if is_separator(line) {
            if stage == Stage::Deciding {
                stage = Stage::After;
            }
            out.push((Region::Exempt, raw));
            continue;
        }
        if is_footer(line) {
            // Read like a signature: "Sent from my iPhone" says nothing, words after it do.
            if stage == Stage::Deciding {
                stage = Stage::After;
            }
            out.push((Region::Below, raw));
            continue;
        }
        if stage == Stage::Deciding
            && (is_sign_off(line, names) || is_name_line(line, names, blank_before))
        {
            stage = Stage::After;
            out.push((Region::Below, raw));
            continue;
        }
        match stage {
            Stage::Before | Stage::Deciding => {
                stage = Stage::Deciding;
                out.push((Region::Decisive, raw));
            }
            _ => out.push((Region::Below, raw)),
        }
    }
    out
}

/// Whether the broker's own mail (its reply marker) starts within the first lines below a
/// quote header, past the header fields of a quoted mail.
fn broker_mail_follows(lines: &[&str]) -> bool {
    lines
        .iter()
        .take(16)
        .any(|l| clean(l).trim_start_matches('>').trim() == REPLY_MARKER)
}

/// A quote header starting at `lines[0]`: how many lines it spans. "On … wrote:" (also broken
/// over two or three lines), "Op … schreef …:", an Outlook header block (From/Sent/To/Subject,
/// also in Dutch and German), "-----Original Message-----", a forwarded-message line, or the
/// broker's own reply marker.
fn quote_header(lines: &[&str]) -> Option<usize> {
    let first = clean(lines.first()?);
    let lower = first.to_lowercase();
    if first == REPLY_MARKER {
        return Some(1);
    }
    let dashed = lower.trim_matches(|c: char| c == '-' || c == '_' || c == ' ' || c == '*');
    if [
        "original message",
        "oorspronkelijk bericht",
        "origineel bericht",
        "forwarded message",
        "doorgestuurd bericht",
        "ursprüngliche nachricht",
        "message d'origine",
    ]
    .contains(&dashed)
        || lower.starts_with("begin forwarded message")
    {
        return Some(1);
    }
    if ends_quote_header(&lower) && looks_like_attribution(&lower) && quiet(&lower) {
        return Some(1);
    }
    let opens = ["on ", "op ", "am ", "le ", "em ", "el "]
        .iter()
        .any(|p| lower.starts_with(p));
    if opens && lower.chars().any(|c| c.is_ascii_digit()) {
        for span in 2..=3 {
            let joined = lines
                .get(..span)?
                .iter()
                .map(|l| clean(l).to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if ends_quote_header(&joined) && looks_like_attribution(&joined) && quiet(&joined) {
                return Some(span);
            }
        }
    }
    // An Outlook header block: From, then Sent/Date and To/Subject within the next lines.
    let field = |line: &str| -> Option<String> {
        let line = clean(line).trim_start_matches('*').to_lowercase();
        let (name, _) = line.split_once(':')?;
        Some(name.trim_end_matches('*').trim().to_string())
    };
    let ours = lines
        .iter()
        .take(6)
        .any(|l| clean(l).to_lowercase().contains("[clawdbot"));
    if matches!(field(first).as_deref(), Some("from" | "van" | "von" | "de"))
        && (first.contains('@') || ours)
    {
        let following: Vec<String> = lines
            .iter()
            .skip(1)
            .take(5)
            .filter_map(|l| field(l))
            .collect();
        let dated = following.iter().any(|f| {
            matches!(
                f.as_str(),
                "sent" | "date" | "verzonden" | "datum" | "gesendet" | "envoyé"
            )
        });
        let addressed = following.iter().any(|f| {
            matches!(
                f.as_str(),
                "to" | "subject" | "aan" | "onderwerp" | "an" | "betreff" | "à" | "objet"
            )
        });
        if dated && addressed {
            return Some(1);
        }
    }
    None
}

/// An attribution line names a date or an address ("On Tue, 1 Dec 2026 at 10:15, clawdbot
/// <…> wrote:"), so that "But as I wrote:" in the operator's own text starts no quote.
fn looks_like_attribution(lower: &str) -> bool {
    let opens = ["on ", "op ", "am ", "le ", "em ", "el "]
        .iter()
        .any(|p| lower.starts_with(p));
    let dated = lower.chars().any(|c| c.is_ascii_digit());
    let addressed = lower.contains('@') || lower.contains('<');
    (opens && (dated || addressed)) || (dated && addressed) || lower.len() > 200 && addressed
}

/// An attribution says nothing of its own: no veto but names of days and times ("On
/// Tuesday, 1 Dec 2026 at 10:15"), so that "Not before 18:00, as Piet <…> wrote:" is read.
fn quiet(text: &str) -> bool {
    let split = words(text);
    !split.asks
        && split
            .clauses
            .iter()
            .flatten()
            .all(|word| lookup_veto(word).is_none() || WEEKDAYS.contains(&word.as_str()))
}

/// Names of days, which an attribution or a signature's office hours may carry.
#[rustfmt::skip]
const WEEKDAYS: &[&str] = &[
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "maandag",
    "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag",
];

fn ends_quote_header(lower: &str) -> bool {
    let lower = lower.trim_end();
    lower.ends_with("wrote:")
        || lower.ends_with("geschreven:")
        || lower.ends_with("schrieb:")
        || lower.ends_with("a écrit :")
        || lower.ends_with("a écrit:")
        || lower.ends_with("escreveu:")
        || lower.ends_with("escribió:")
        || (lower.contains("schreef") && lower.ends_with(':'))
        || (lower.contains("schrieb") && lower.ends_with(':'))
        || (lower.contains(" wrote ") && lower.ends_with(':'))
        || ((lower.contains('@') || lower.contains('<'))
            && lower.chars().any(|c| c.is_ascii_digit())
            && (lower.ends_with("]:") || lower.ends_with(">:")))
}

/// `-- `, `--`, `---`, `___`, `===`, `***`, `~~~`, `. . .`: a line of one repeated mark.
fn is_separator(line: &str) -> bool {
    let marks: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(first) = marks.chars().next() else {
        return false;
    };
    marks.chars().count() >= 2
        && matches!(
            first,
            '-' | '_' | '=' | '*' | '~' | '.' | '#' | '+' | '–' | '—'
        )
        && marks.chars().all(|c| c == first)
}

fn is_footer(line: &str) -> bool {
    let lower = line.to_lowercase();
    FOOTERS.iter().any(|f| lower.starts_with(f))
}

/// "Thanks,", "Best regards", "Groet, Anna": a sign-off, and after it only a name.
fn is_sign_off(line: &str, names: &[String]) -> bool {
    let split = words(line);
    let Some(first) = split.clauses.first() else {
        return false;
    };
    if split.asks || !SIGN_OFFS.contains(&first.join(" ").as_str()) {
        return false;
    }
    let rest: Vec<&String> = split.clauses[1..].iter().flatten().collect();
    if rest.is_empty() || rest.iter().all(|w| names.contains(w)) {
        return true;
    }
    // "Cheers, Anna": what follows the first comma has the shape of a name.
    line.split_once(',')
        .is_some_and(|(_, after)| name_shaped(after.trim(), 1))
}

/// A line that is only the operator's name, or has the shape of a name after a blank line:
/// two to four capitalised words (particles such as "de", "van" allowed), no digits.
fn is_name_line(line: &str, names: &[String], blank_before: bool) -> bool {
    let normal = normalised_words(line);
    if !normal.is_empty() && normal.iter().all(|w| names.contains(w)) {
        return true;
    }
    if !normal.is_empty() && names.contains(&normal[0]) {
        // "Anna de Vries, Head of IT", "Anna de Vries | Example B.V.".
        let first = line.split([',', '|', '–', '—', '/']).next().unwrap_or("");
        let first_words = normalised_words(first);
        if !first_words.is_empty() && first_words.iter().all(|w| names.contains(w)) {
            return true;
        }
    }
    blank_before && name_shaped(line, 2)
}

/// `fewest` to four capitalised words (particles such as "de", "van" allowed), no digits,
/// short, not ending a sentence ("On Staging." is no name; "J. de Vries" and "B.V." are).
fn name_shaped(line: &str, fewest: usize) -> bool {
    if line.chars().count() > 40 {
        return false;
    }
    let last = line.split_whitespace().last().unwrap_or("");
    let ends_sentence = last.ends_with(['.', '!', '?'])
        && !(last.trim_end_matches('.').contains('.') || last.chars().count() <= 2);
    if ends_sentence {
        return false;
    }
    const PARTICLES: &[&str] = &[
        "de", "van", "der", "den", "ter", "ten", "het", "von", "da", "di", "du", "le", "la", "|",
    ];
    let tokens: Vec<&str> = line.split_whitespace().collect();
    (fewest..=4).contains(&tokens.len())
        && tokens.iter().all(|t| {
            PARTICLES.contains(t)
                || (t.chars().next().is_some_and(char::is_uppercase)
                    && t.chars()
                        .all(|c| c.is_alphabetic() || matches!(c, '.' | '-' | '\'')))
        })
}

/// Words of prose: a line below the reply that holds one is the operator writing, not a
/// signature ("PS a reload is enough", "mx2 please"), and must say nothing but yes.
#[rustfmt::skip]
const PROSE: &[&str] = &[
    "i", "im", "ill", "ive", "id", "you", "youre", "we", "he", "she", "they", "it", "its", "me",
    "my", "is", "are", "was", "be", "been", "do", "will", "can", "have", "has", "had", "please",
    "pls", "a", "an", "that", "this", "there", "then", "than", "enough", "just", "so", "ik",
    "je", "jij", "wij", "het", "een", "dat", "dit", "zijn", "wordt", "kan", "wil", "graag",
    "doe", "al", "wel", "er", "restart", "reboot", "reload", "run", "start", "install",
    "remove", "delete", "deploy", "upgrade", "update", "kill", "herstart", "herstarten", "draai",
    "verwijder", "installeer", "enough", "fine", "ok", "okay", "yes", "done", "instead",
];

/// Lower-case words a signature line may hold: titles, departments, contact labels, the
/// small words between them. Any other lower-case word below the reply is the operator
/// writing ("at lunch", "mx2 preferably", "backup beforehand").
#[rustfmt::skip]
const SIGNATURE_WORDS: &[&str] = &[
    "of", "and", "en", "for", "voor", "at", "bij", "on", "call", "the", "de", "van", "der",
    "den", "het", "ter", "ten", "von", "la", "le", "du", "da", "di", "y", "e", "o", "x",
    "beheer", "systeembeheer", "systeembeheerder", "beheerder", "netwerkbeheer", "ict", "it",
    "ops", "operations", "support", "team", "teamleider", "lead", "manager", "engineer",
    "engineering", "afdeling", "helpdesk", "servicedesk", "directeur", "eigenaar", "owner",
    "head", "infrastructure", "infrastructuur", "security", "admin", "administrator",
    "tel", "telefoon", "phone", "mob", "mobile", "mobiel", "fax", "email", "mail", "web",
    "site", "website", "office", "kantoor", "adres", "address", "bv", "b", "v", "nv", "ltd",
    "inc", "gmbh", "llc", "vof", "sr", "jr", "dr", "ing", "ir", "drs", "mr", "mrs", "ms", "t",
    "m", "f", "w", "p", "she", "her", "he", "him", "they", "them", "pronouns", "intern",
    "extern", "direct", "werkdagen", "days", "hours", "uur",
];

/// Whether a line below the reply has the shape of a signature line: no postscript, no
/// sentence, not long, and every word capitalised (a name, a company, a title), in capitals,
/// a number, or one of [`SIGNATURE_WORDS`]. A name, a title, a company, a phone number, an
/// address, a link.
fn signature_shaped(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    const POSTSCRIPTS: &[&str] = &[
        "p.s",
        "ps ",
        "ps:",
        "ps.",
        "ps,",
        "pps",
        "nb ",
        "nb:",
        "n.b",
        "edit",
        "update",
        "note",
        "btw",
        "oh and",
        "also",
        "ook",
        "fyi",
        "by the way",
        "heads up",
        "(",
        "[",
        "<<",
        "-",
        "*",
    ];
    if POSTSCRIPTS.iter().any(|p| lower.starts_with(p)) || lower == "ps" {
        return false;
    }
    let last = line.split_whitespace().last().unwrap_or("");
    let abbreviation = last.trim_end_matches('.').contains('.') || last.chars().count() <= 4;
    if last.ends_with(['.', '!', '?', '…']) && !abbreviation {
        return false;
    }
    let plain = without_links(line);
    let tokens: Vec<&str> = plain.split_whitespace().collect();
    if normalised_words(&plain).len() > 12 {
        return false;
    }
    tokens.iter().enumerate().all(|(at, token)| {
        let letters: String = token.chars().filter(|c| c.is_alphabetic()).collect();
        let word = normalised_words(token).join(" ");
        if letters.is_empty() {
            // Digits, phone numbers, separators; an emoji alone is no signature.
            return !token.chars().any(is_emoji);
        }
        let domain = token.contains('.')
            && token.split('.').filter(|p| !p.is_empty()).count() >= 2
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '/'));
        if domain && !token.ends_with('.') {
            return true;
        }
        if word.chars().any(|c| c.is_ascii_digit()) && letters.chars().any(char::is_lowercase) {
            // "mx2", "h4ck": a name of a thing, written by the operator.
            return false;
        }
        let capitalised = letters.chars().next().is_some_and(char::is_uppercase);
        let initial = letters.chars().count() == 1 && token.ends_with('.');
        let all_caps =
            letters.chars().all(char::is_uppercase) && (letters.chars().count() > 1 || initial);
        let prose = PROSE.contains(&word.as_str()) && !(capitalised && at > 0) && !all_caps
            || letters == "I";
        if prose {
            return false;
        }
        capitalised || word.split(' ').all(|w| SIGNATURE_WORDS.contains(&w))
    })
}

/// A paragraph that the operator's client adds to every mail.
fn is_boilerplate(paragraph: &str, configured: &[String]) -> bool {
    let normal = normalised_words(paragraph).join(" ");
    if normal.is_empty() {
        return false;
    }
    if configured
        .iter()
        .any(|block| contains_phrase(block, &normal))
    {
        return true;
    }
    let markers = DISCLAIMER_MARKERS
        .iter()
        .filter(|m| contains_phrase(&normal, m))
        .count();
    markers >= 2 && normal.split(' ').count() >= 15
}

fn contains_phrase(text: &str, phrase: &str) -> bool {
    let padded = format!(" {text} ");
    padded.contains(&format!(" {phrase} "))
}

// ---------------------------------------------------------------------------------------------
// Reading one body.

/// Greetings that are fillers only as the reply's first word: "Morning, yes" greets, "Yes,
/// morning please" is a delay, and "Ja, dag!" a sneer.
const START_GREETINGS: &[&str] = &["dag", "morning", "middag"];

/// Words that make a clause a question when it opens with one and says more ("Is this ok",
/// "Mag dat"), unless they begin an approval phrase ("Is goed").
#[rustfmt::skip]
const QUESTION_OPENERS: &[&str] = &[
    "is", "are", "am", "can", "will", "was", "were", "do", "have", "has", "may", "mag", "kan",
    "kun", "kunt", "zal", "zullen", "wordt", "gaat", "heb", "hebben", "ben", "zijn", "klopt",
];

fn question_opener(clause: &[String]) -> Option<String> {
    let first = clause.first()?;
    if clause.len() < 2 || !QUESTION_OPENERS.contains(&first.as_str()) {
        return None;
    }
    match longest(clause, 0) {
        Some((Cue::Approve | Cue::Filler, len)) if len > 1 => None,
        _ => Some(format!("{} …", first)),
    }
}

/// What one body says.
#[derive(Debug, Default)]
struct BodyReading {
    html: bool,
    approvals: Vec<String>,
    unknown: Vec<String>,
    vetoes: Vec<Veto>,
    /// A refusal in the operator's own visible words (for deny).
    refused: bool,
    /// The decisive text opens with a refusal ("No. OK, I see why you ask, but…").
    opens_with_refusal: bool,
    /// Whether any cue of the decisive text was seen yet.
    decisive_cue: bool,
    /// How many words of the decisive text were read.
    decisive_words: usize,
    /// Lines below the decisive text that are the operator writing rather than a signature.
    prose: Vec<String>,
    too_long: Option<usize>,
}

fn read_body(body: &Body, names: &[String], boilerplate: &[String], ids: &mut Ids) -> BodyReading {
    let part = if body.html { "html" } else { "text" };
    let mut reading = BodyReading {
        html: body.html,
        ..BodyReading::default()
    };
    // Measured before boilerplate is looked for, which bounds that work too.
    let regions = regions(&body.visible, names);
    let own: usize = regions
        .iter()
        .filter(|(r, _)| *r != Region::Exempt)
        .map(|(_, l)| l.len())
        .sum::<usize>()
        + body.hidden.len();
    if own > MAX_OWN_BYTES {
        reading.too_long = Some(own);
        return reading;
    }
    let lines = exempt_boilerplate(regions, boilerplate);
    for (region, line) in &lines {
        let place = match region {
            Region::Decisive => Place::Decisive,
            Region::Below => Place::Below,
            Region::Exempt => continue,
        };
        scan(line, place, part, names, ids, &mut reading);
    }
    for line in body.hidden.lines() {
        scan(line, Place::Hidden, part, names, ids, &mut reading);
    }
    reading
}

/// Boilerplate is exempt, sentence by sentence, so that words added to it are still read:
/// past the decisive text, a "do not print" sentence; past the first paragraph, a configured
/// block (the whole paragraph, unchanged) or a disclaimer, from the line where it starts to the
/// end of its paragraph, each of its sentences that names a disclaimer marker or is long.
fn exempt_boilerplate(lines: Vec<(Region, &str)>, configured: &[String]) -> Vec<(Region, String)> {
    let mut out: Vec<(Region, String)> = Vec::with_capacity(lines.len());
    let mut first = true;
    let mut at = 0;
    while at < lines.len() {
        let (region, line) = lines[at];
        if region == Region::Exempt || clean(line).is_empty() {
            out.push((region, line.to_string()));
            at += 1;
            continue;
        }
        let end = lines[at..]
            .iter()
            .position(|(r, l)| *r == Region::Exempt || clean(l).is_empty())
            .map_or(lines.len(), |n| at + n);
        let block_start = if first {
            None
        } else {
            // It starts at its first line naming a marker (or at a configured block's first
            // line), so that lines above it, in the same paragraph, are still read.
            // A later start only shortens the block, so a few tries are enough (and a
            // paragraph of hostile one-marker lines costs no more than a few).
            (at..end)
                .filter(|&from| {
                    let normal = normalised_words(lines[from].1).join(" ");
                    DISCLAIMER_MARKERS
                        .iter()
                        .any(|m| contains_phrase(&normal, m))
                        || configured.iter().any(|c| contains_phrase(c, &normal))
                })
                .take(3)
                .find(|&from| {
                    let block: Vec<&str> = lines[from..end].iter().map(|(_, l)| *l).collect();
                    is_boilerplate(&block.join("\n"), configured)
                })
        };
        let stop = block_start.unwrap_or(end);
        for &(region, line) in &lines[at..stop] {
            if region == Region::Below {
                out.push((region, without_sentences(line, is_print_footer)));
            } else {
                out.push((region, line.to_string()));
            }
        }
        if let Some(from) = block_start {
            let block: Vec<&str> = lines[from..end].iter().map(|(_, l)| *l).collect();
            let block = block.join(" ");
            let normal = normalised_words(&block).join(" ");
            let rest = if configured.iter().any(|c| contains_phrase(c, &normal)) {
                String::new()
            } else {
                without_sentences(&block, |sentence| {
                    let normal = normalised_words(sentence).join(" ");
                    is_print_footer(sentence)
                        || DISCLAIMER_MARKERS
                            .iter()
                            .any(|m| contains_phrase(&normal, m))
                        || (normal.split(' ').count() >= 6
                            && normal.split(' ').all(|w| DISCLAIMER_WORDS.contains(&w)))
                })
            };
            out.push((Region::Exempt, block));
            if !rest.trim().is_empty() {
                out.push((lines[from].0, rest));
            }
        }
        first = false;
        at = end;
    }
    out
}

/// `text` without the sentences `exempt` picks; the others keep their punctuation.
fn without_sentences(text: &str, exempt: impl Fn(&str) -> bool) -> String {
    text.split_inclusive(['.', '!', '?'])
        .filter(|sentence| !exempt(sentence))
        .collect()
}

fn is_print_footer(sentence: &str) -> bool {
    #[rustfmt::skip]
    const FOOTER_WORDS: &[&str] = &[
        "this", "e", "mail", "email", "message", "unless", "necessary", "absolutely", "really",
        "before", "printing", "print", "the", "environment", "please", "consider", "you", "it",
        "deze", "dit", "bericht", "niet", "tenzij", "noodzakelijk", "nodig", "het", "milieu",
        "aan", "denk", "voordat", "u", "je", "afdrukt", "printen", "echt",
    ];
    let normal = normalised_words(sentence).join(" ");
    PRINT_FOOTERS.iter().any(|f| {
        normal
            .strip_prefix(f)
            .is_some_and(|rest| rest.split_whitespace().all(|w| FOOTER_WORDS.contains(&w)))
    })
}

/// Scan one line: vetoes anywhere; in the decisive text, also the grammar.
fn scan(
    line: &str,
    place: Place,
    part: &'static str,
    names: &[String],
    ids: &mut Ids,
    reading: &mut BodyReading,
) {
    let original = line;
    let line = if place == Place::Decisive {
        ids.mark(line)
    } else {
        ids.mark(&without_links(line))
    };
    let mut below_unknown = false;
    // Office hours in a signature ("Mon-Fri 9:00-17:00", "maandag t/m donderdag") are no delay.
    let signature = place == Place::Below && signature_shaped(original);
    // …but only as office hours: a range of days, or days with hours; "Sunday" alone is a day.
    let office_hours = signature && {
        let days = normalised_words(original)
            .iter()
            .filter(|w| WEEKDAYS.contains(&w.as_str()))
            .count();
        let clock = original
            .as_bytes()
            .windows(4)
            .filter(|w| {
                w[0].is_ascii_digit()
                    && w[1] == b':'
                    && w[2].is_ascii_digit()
                    && w[3].is_ascii_digit()
            })
            .count();
        days >= 2 || (days == 1 && original.chars().any(|c| c.is_ascii_digit())) || clock >= 2
    };
    let veto = |kind: VetoKind, words: String, reading: &mut BodyReading| {
        if !reading
            .vetoes
            .iter()
            .any(|v| v.kind == kind && v.words == words && v.place == place)
        {
            reading.vetoes.push(Veto {
                kind,
                words,
                place,
                part,
            });
        }
    };
    if let Some(time) = time_of_day(&line).filter(|_| !office_hours) {
        veto(VetoKind::Delay, time, reading);
    }
    let split = words(&line);
    let mut negated = false;
    if split.asks {
        veto(VetoKind::Question, "?".into(), reading);
    }
    for clause in &split.clauses {
        if place == Place::Decisive
            && let Some(opener) = question_opener(clause)
        {
            veto(VetoKind::Question, opener, reading);
        }
        let mut at = 0;
        while at < clause.len() {
            let word = clause[at].as_str();
            if word == UNREADABLE {
                veto(
                    VetoKind::Unreadable,
                    "a word in another script".into(),
                    reading,
                );
                at += 1;
                continue;
            }
            if word == OTHER_ID {
                veto(VetoKind::OtherRequest, "another request id".into(), reading);
                at += 1;
                continue;
            }
            // "Dag," greets only at the very start; after a yes, "Ja, dag!" is a sneer.
            let greeting = START_GREETINGS.contains(&word)
                && place == Place::Decisive
                && reading.decisive_words == 0;
            if place == Place::Decisive {
                reading.decisive_words += 1;
            }
            if greeting
                || word == SELF_ID
                || (names.iter().any(|n| n == word) && longest(clause, at).is_none())
            {
                at += 1;
                continue;
            }
            match longest(clause, at) {
                Some((Cue::Approve, len)) => {
                    reading.decisive_cue |= place == Place::Decisive;
                    let phrase = clause[at..at + len].join(" ");
                    // "Sure, sure." "Ja, ja.": a yes said twice over is a brush-off.
                    if place == Place::Decisive && reading.approvals.last() == Some(&phrase) {
                        veto(VetoKind::Sarcasm, format!("{phrase} {phrase}"), reading);
                    }
                    // After a refusal or negation on its line ("I will not approve this") an
                    // approval phrase approves nothing.
                    if !negated && place == Place::Decisive {
                        reading.approvals.push(phrase);
                    }
                    at += len;
                }
                Some((Cue::Filler, len)) => at += len,
                Some((Cue::Veto(VetoKind::Delay), 1))
                    if office_hours && WEEKDAYS.contains(&word) =>
                {
                    at += 1;
                }
                Some((Cue::Veto(kind), len)) => {
                    let words = clause[at..at + len].join(" ");
                    if matches!(kind, VetoKind::Refusal | VetoKind::Negation) {
                        negated = true;
                        reading.refused |= place != Place::Hidden;
                        if place == Place::Decisive && !reading.decisive_cue {
                            reading.opens_with_refusal = true;
                        }
                    }
                    reading.decisive_cue |= place == Place::Decisive;
                    veto(kind, words, reading);
                    at += len;
                }
                None => {
                    if place == Place::Decisive {
                        reading.unknown.push(clause[at].clone());
                    }
                    below_unknown = true;
                    at += 1;
                }
            }
        }
    }
    if place == Place::Below && below_unknown && !signature && !is_footer(clean(original)) {
        reading
            .prose
            .push(clean(original).chars().take(80).collect());
    }
}

// ---------------------------------------------------------------------------------------------
// The verdict.

fn combine(readings: &[BodyReading]) -> Verdict {
    let mut verdict = Verdict {
        intent: Intent::Unclear,
        rule: String::new(),
        approvals: Vec::new(),
        vetoes: Vec::new(),
        unknown: Vec::new(),
        reasons: Vec::new(),
    };
    if let Some(size) = readings.iter().find_map(|r| r.too_long) {
        verdict.rule = "too long".into();
        verdict.reasons.push(format!(
            "The reply's own text ({size} bytes) is too long to be a plain verdict."
        ));
        return verdict;
    }
    for reading in readings {
        for approval in &reading.approvals {
            if !verdict.approvals.contains(approval) {
                verdict.approvals.push(approval.clone());
            }
        }
        for word in &reading.unknown {
            if !verdict.unknown.contains(word) {
                verdict.unknown.push(word.clone());
            }
        }
        for veto in &reading.vetoes {
            if !verdict
                .vetoes
                .iter()
                .any(|v| v.kind == veto.kind && v.words == veto.words)
            {
                verdict.vetoes.push(veto.clone());
            }
        }
    }
    let prose: Vec<String> = readings.iter().flat_map(|r| r.prose.clone()).collect();
    let each_approves = !readings.is_empty()
        && readings.iter().all(|r| {
            !r.approvals.is_empty()
                && r.unknown.is_empty()
                && r.vetoes.is_empty()
                && r.prose.is_empty()
        });
    if each_approves {
        verdict.intent = Intent::Approve;
        verdict.rule = "approval: nothing but approval phrases and fillers, no veto".into();
        verdict.reasons.push(format!(
            "Approves: {}; nothing else in the decisive text, and no veto anywhere{}.",
            quoted(&verdict.approvals),
            if readings.len() > 1 {
                " in the text or the HTML part"
            } else {
                ""
            }
        ));
        return verdict;
    }
    let has = |kinds: &[VetoKind]| verdict.vetoes.iter().any(|v| kinds.contains(&v.kind));
    let refused = readings.iter().any(|r| r.refused);
    let opens_with_refusal = readings.iter().any(|r| r.opens_with_refusal);
    let approving = !verdict.approvals.is_empty();
    let (intent, rule) = if refused && (!approving || opens_with_refusal) {
        (
            Intent::Deny,
            "refusal: refuses or negates, approves nothing",
        )
    } else if refused {
        (Intent::Unclear, "contradiction: approves and refuses")
    } else if has(&[VetoKind::Question]) {
        (Intent::Question, "question: asks something")
    } else if has(&[VetoKind::Delay]) && !approving && verdict.unknown.is_empty() {
        (Intent::Deny, "delay: not now")
    } else if approving
        && has(&[
            VetoKind::Condition,
            VetoKind::Exclusion,
            VetoKind::Delay,
            VetoKind::Addition,
            VetoKind::Change,
            VetoKind::OtherRequest,
        ])
    {
        (
            Intent::Modify,
            "modify: an approval with a condition, change or another request",
        )
    } else if !verdict.vetoes.is_empty() {
        (Intent::Unclear, "veto: a word that takes the approval away")
    } else if approving && verdict.unknown.is_empty() && !prose.is_empty() {
        (
            Intent::Unclear,
            "prose below the reply: words of the operator's own past the decisive text",
        )
    } else if approving {
        (
            Intent::Unclear,
            "grammar: words outside the approval grammar",
        )
    } else if readings.len() > 1 && readings.iter().any(|r| !r.approvals.is_empty()) {
        (Intent::Unclear, "parts disagree")
    } else {
        (
            Intent::Unclear,
            "no approval: nothing in the reply approves",
        )
    };
    verdict.intent = intent;
    verdict.rule = rule.into();
    if !verdict.vetoes.is_empty() {
        let listed: Vec<String> = verdict
            .vetoes
            .iter()
            .map(|v| {
                format!(
                    "\"{}\" ({}, {}{})",
                    v.words,
                    kind_name(v.kind),
                    place_name(v.place),
                    if readings.len() > 1 {
                        format!(", {} part", v.part)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        verdict
            .reasons
            .push(format!("Vetoed by {}.", listed.join(", ")));
    }
    if !prose.is_empty() {
        verdict.reasons.push(format!(
            "Below the reply, lines that are no signature: {}.",
            quoted(&prose)
        ));
    }
    if !verdict.unknown.is_empty() {
        let words: Vec<&str> = verdict
            .unknown
            .iter()
            .take(12)
            .map(String::as_str)
            .collect();
        verdict.reasons.push(format!(
            "Words outside the approval grammar: {}.",
            quoted(&words)
        ));
    }
    if approving {
        verdict
            .reasons
            .push(format!("Approval words: {}.", quoted(&verdict.approvals)));
    } else {
        verdict
            .reasons
            .push("No approval phrase in the decisive text.".into());
    }
    let approving_parts = readings.iter().filter(|r| !r.approvals.is_empty()).count();
    if readings.len() > 1 && approving_parts > 0 && approving_parts < readings.len() {
        let which: Vec<&str> = readings
            .iter()
            .filter(|r| r.approvals.is_empty())
            .map(|r| if r.html { "HTML" } else { "text" })
            .collect();
        verdict.reasons.push(format!(
            "The {} part does not approve, so the parts disagree.",
            which.join(" and ")
        ));
    }
    verdict
}

fn kind_name(kind: VetoKind) -> &'static str {
    match kind {
        VetoKind::Refusal => "refusal",
        VetoKind::Negation => "negation",
        VetoKind::Question => "question",
        VetoKind::Condition => "condition",
        VetoKind::Exclusion => "exclusion",
        VetoKind::Delay => "delay",
        VetoKind::Hedge => "hedge",
        VetoKind::Retraction => "retraction",
        VetoKind::Addition => "addition",
        VetoKind::Change => "change",
        VetoKind::Sarcasm => "sarcasm",
        VetoKind::OtherRequest => "another request",
        VetoKind::Unreadable => "unreadable",
    }
}

fn place_name(place: Place) -> &'static str {
    match place {
        Place::Decisive => "in the reply",
        Place::Below => "below the reply",
        Place::Hidden => "in hidden HTML",
        Place::Subject => "in the subject",
    }
}

/// `"yes", "go ahead"`.
fn quoted<S: AsRef<str>>(texts: &[S]) -> String {
    texts
        .iter()
        .map(|t| format!("\"{}\"", t.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use Intent::{Approve, Deny, Modify, Question, Unclear};

    /// Replies and what a careful human reads in them.
    const CASES: &[(&str, Intent)] = &[
        ("yes", Approve),
        ("Yes, go ahead.", Approve),
        ("APPROVE", Approve),
        ("Approved, thanks!", Approve),
        ("ok", Approve),
        ("LGTM", Approve),
        ("Ja, doe maar", Approve),
        ("Akkoord", Approve),
        ("Prima, ga je gang", Approve),
        ("Oké!", Approve),
        ("Hi,\n\nYes please.\n\nThanks,\nAnna", Approve),
        (
            "Go ahead.\n\n-- \nOps team\nT +31 20 123 4567\nhttps://example.org/?a=b",
            Approve,
        ),
        ("R-20261201-7Q2M approved", Approve),
        ("No problem, go ahead", Approve),
        ("Yes.\n\nSent from my iPhone", Approve),
        ("👍", Unclear),
        ("✅", Unclear),
        ("", Unclear),
        ("No.", Deny),
        ("Niet doen!", Deny),
        ("I will not, under any circumstances, approve this.", Deny),
        ("Yes, I read it. The answer is no.", Unclear),
        ("Why is this needed?\nOK Systems B.V.", Question),
        ("OK\n---\nWait, no. Don't.", Unclear),
        ("Sure, when pigs fly.", Unclear),
        ("Approve it and you're fired.", Unclear),
        ("Yes but only after 18:00", Modify),
        (
            "Go ahead with all of them, just not R-20261201-AB12",
            Unclear,
        ),
        ("Not yet.", Deny),
        ("yes, and also R-20261202-ZZ99", Modify),
        (
            "Yes.\nThanks,\nAnna\nP.S. don't run it before the backup",
            Unclear,
        ),
        ("maybe", Unclear),
        ("Yes, and restart nginx too", Modify),
        ("Yse", Unclear),
    ];

    #[test]
    fn table() {
        let mut wrong = Vec::new();
        for (text, expected) in CASES {
            let verdict = interpret(text);
            if verdict.intent != *expected || verdict.reasons.is_empty() {
                wrong.push(format!(
                    "case {text:?}: expected {expected:?}, got {:?} ({}) because {:?}",
                    verdict.intent, verdict.rule, verdict.reasons
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn names_and_ids_come_from_the_context() {
        let context = Context {
            request: Some("R-20261201-7Q2M".into()),
            names: vec!["Anna de Vries".into()],
            ..Context::default()
        };
        let body = |text: &str| Body {
            html: false,
            visible: text.into(),
            hidden: String::new(),
        };
        assert_eq!(
            read(&[body("Approved\nAnna de Vries\nHead of IT")], &context).intent,
            Approve
        );
        let acting = Context {
            action: "restart_container".into(),
            ..context.clone()
        };
        assert_eq!(read(&[body("Yes, restart it.")], &acting).intent, Approve);
        assert_eq!(read(&[body("Yes, reboot it.")], &acting).intent, Unclear);
        assert_eq!(read(&[body("Yes, restart it.")], &context).intent, Unclear);
        let other = read(&[body("R-20261201-AB12 approved")], &context);
        assert_eq!(other.intent, Modify, "{other:?}");
        assert_eq!(other.vetoes[0].kind, VetoKind::OtherRequest);
    }

    #[test]
    fn html_must_agree_and_hidden_text_vetoes() {
        let context = Context::default();
        let plain = Body {
            html: false,
            visible: "Yes, go ahead".into(),
            hidden: String::new(),
        };
        let mut html = Body {
            html: true,
            visible: "No, don't".into(),
            hidden: String::new(),
        };
        assert_ne!(
            read(&[plain.clone(), html.clone()], &context).intent,
            Approve
        );
        html.visible = "Yes, go ahead".into();
        assert_eq!(
            read(&[plain.clone(), html.clone()], &context).intent,
            Approve
        );
        html.hidden = "do not run this".into();
        let verdict = read(&[plain, html], &context);
        assert_eq!(verdict.intent, Unclear);
        assert!(verdict.vetoes.iter().any(|v| v.place == Place::Hidden));
    }

    #[test]
    fn disclaimers_are_boilerplate() {
        let text = "Approved.\n\n-- \nAnna\n\nThis e-mail is confidential and intended only for the addressee. If you are not the intended recipient, do not copy or use it.";
        assert_eq!(interpret(text).intent, Approve, "{:?}", interpret(text));
        let context = Context {
            boilerplate: vec!["Not valid without signature, only for internal use.".into()],
            ..Context::default()
        };
        let body = Body {
            html: false,
            visible: "Yes\n\nNot valid without signature, only for internal use.".into(),
            hidden: String::new(),
        };
        assert_eq!(read(&[body], &context).intent, Approve);
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day("after 18:00 please").as_deref(), Some("18:00"));
        assert_eq!(time_of_day("at 6pm").as_deref(), Some("6pm"));
        assert_eq!(time_of_day("om 9.30u").as_deref(), Some("9.30"));
        assert_eq!(time_of_day("T +31 20 123 4567"), None);
        assert_eq!(time_of_day("R-20261201-7Q2M"), None);
    }

    #[test]
    fn a_long_reply_is_unclear() {
        let long = "yes\n".repeat(MAX_OWN_BYTES / 2);
        assert_eq!(interpret(&long).intent, Unclear);
        let quoted = format!(
            "yes\n\nOn Tue, 1 Dec 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\n{}",
            "> no\n".repeat(MAX_OWN_BYTES)
        );
        assert_eq!(
            interpret(&quoted).intent,
            Approve,
            "quoted text does not count"
        );
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

    /// Every listed phrase is written as the splitter produces it, within the length limit;
    /// approvals, fillers and vetoes never share a phrase.
    #[test]
    fn lists_are_normalised_and_disjoint() {
        let mut lists: Vec<(&str, &[&str])> = vec![("approve", APPROVE), ("filler", FILLERS)];
        for (kind, list) in VETOES {
            lists.push((kind_name(*kind), list));
        }
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (name, list) in &lists {
            for phrase in *list {
                let normal = normalised_words(phrase).join(" ");
                assert_eq!(normal, *phrase, "{name} entry {phrase:?} is not normalised");
                assert!(phrase.split(' ').count() <= MAX_PHRASE_WORDS, "{phrase:?}");
                if let Some((other, _)) = seen.iter().find(|(_, p)| p == phrase)
                    && other != name
                {
                    panic!("{phrase:?} is both {other} and {name}");
                }
                seen.push((name, phrase));
            }
        }
        for phrase in SIGN_OFFS {
            assert_eq!(normalised_words(phrase).join(" "), *phrase);
        }
    }
}

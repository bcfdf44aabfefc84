//! The reply's own words: quotes, signatures and forwarded mail cut away.
//!
//! A port of Discourse's [email_reply_trimmer](https://github.com/discourse/email_reply_trimmer)
//! (Ruby, MIT licence, copyright Discourse), as of its version 0.1.13. It exists because an
//! operator's reply is read for its intent: text the operator merely quoted (the request mail, an
//! earlier answer, a forwarded thread) must never count as what the operator said.
//!
//! As in the gem, the text is first cleaned up (line endings, PGP armour, odd quote styles,
//! "On ... wrote:" lines broken over several lines), then every line is classified by a letter
//! (`d`elimiter, em`b`edded-mail marker, `e`mpty, email `h`eader, `q`uote, `s`ignature, `t`ext,
//! code fences `c`/`x`/`p`), and the trimming rules are regexes over that string of letters.
//! The conformance corpus in `tests/fixtures/email_reply_trimmer` (with the gem's licence) is
//! the gem's own test suite.
//!
//! The gem's regexes are Onigmo (Ruby) regexes; they are written here in the `regex` crate's
//! syntax with the same meaning:
//!
//! | Ruby                                        | here                                     |
//! |---------------------------------------------|------------------------------------------|
//! | `^`, `$` (always line anchors)              | `(?m)^`, `(?m)$`                         |
//! | `/m` (`.` matches a newline), `[\s\S]`      | `(?s:.)`                                 |
//! | `\d`, `\s`, `\w` (ASCII only in Ruby)       | `[0-9]`, `[[:space:]]`, `[[:word:]]`     |
//! | `[[:blank:]]` (Unicode in Ruby)             | `[\t\p{Zs}]`                             |
//! | `[[:space:]]`, `[[:word:]]`, `[[:alpha:]]`  | `\s`, `\w`, `\p{Alphabetic}`             |
//!
//! Where the crate has no equivalent (look-ahead in the "On ... wrote:" regexes, a
//! back-reference in the `>>> label >>>` quotes) the match is done by hand; see
//! [`OnDateWrote`] and [`unwrap_labelled_quotes`].
//!
//! On top of the gem, clawdbot's own [`REPLY_MARKER`] line cuts everything below it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::reply::REPLY_MARKER;

/// The reply's own text, without quotes, signatures and forwarded blocks.
///
/// Everything from a [`REPLY_MARKER`] line down (quoted or not) is dropped first; the rest is
/// trimmed as email_reply_trimmer does. The result has no leading or trailing white space.
pub fn trim_reply(text: &str) -> String {
    let reply = cut_at_marker(text);
    match MATCHERS.as_ref() {
        Some(matchers) => matchers.trim(reply),
        None => reply.trim().to_string(),
    }
}

/// `text` up to (not including) the first line that is the reply marker. A quoted marker
/// (`> -- reply above this line --`) is left to the quote rules: a bottom-posted answer below
/// the quoted mail is the operator's own text and must be kept.
fn cut_at_marker(text: &str) -> &str {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == REPLY_MARKER {
            return &text[..start];
        }
        start += line.len();
    }
    text
}

/// Every regex of the trimmer, built once. `None` (logged) if one did not compile, which the
/// unit tests rule out; [`trim_reply`] then only cuts at the marker.
static MATCHERS: LazyLock<Option<Matchers>> = LazyLock::new(|| {
    Matchers::new()
        .map_err(|err| log::error!("reply trimmer disabled, a regex does not compile: {err}"))
        .ok()
});

/// The gem's one-letter line kinds; the trimming rules are regexes over a string of them.
const CODE_CLOSE: char = 'x';
const CODE_EITHER: char = 'p';
const CODE_OPEN: char = 'c';
const DELIMITER: char = 'd';
const EMBEDDED: char = 'b';
const EMPTY: char = 'e';
const EMAIL_HEADER: char = 'h';
const QUOTE: char = 'q';
const SIGNATURE: char = 's';
const TEXT: char = 't';

/// A match of the "On ... wrote:" kind spanning more newlines than this is left as it is.
const MAX_MARKER_NEWLINES: usize = 4;

/// A quoted mail followed by this many lines of text is answered inline, and not cut.
const TEXT_AFTER_QUOTE: usize = 7;

/// Everything the trimmer matches with.
struct Matchers {
    /// The gem's `ON_DATE_SOMEONE_WROTE_REGEXES`, used both to clean up and to classify.
    on_date_wrote: Vec<OnDateWrote>,
    cleanup: Cleanup,
    lines: LineMatchers,
    rules: Rules,
}

impl Matchers {
    fn new() -> Result<Self, regex::Error> {
        Ok(Self {
            on_date_wrote: ON_DATE_SOMEONE_WROTE
                .iter()
                .map(OnDateWrote::new)
                .collect::<Result<_, _>>()?,
            cleanup: Cleanup::new()?,
            lines: LineMatchers::new()?,
            rules: Rules::new()?,
        })
    }

    /// The gem's `EmailReplyTrimmer.trim`.
    fn trim(&self, text: &str) -> String {
        if text.chars().all(char::is_whitespace) {
            return String::new();
        }
        let text = self.clean_up(text);
        let lines = ruby_split_lines(&text);
        let pattern = lines.iter().map(|line| self.classify(line)).collect();
        let reply = self.rules.select(Classified { pattern, lines });
        ruby_strip(&reply.join("\n")).to_string()
    }

    /// The gem's `preprocess!`.
    fn clean_up(&self, text: &str) -> String {
        let mut text = self.cleanup.before_markers(text);
        for matcher in &self.on_date_wrote {
            let mut scan = OnDateScan::new(matcher);
            text = gsub(
                &text,
                |at| scan.next_match(&text, at),
                |marker| self.cleanup.join_marker(marker),
            );
        }
        for regex in &self.cleanup.split_markers {
            text = gsub(
                &text,
                |at| regex.find_at(&text, at).map(|m| m.range()),
                |marker| self.cleanup.join_marker(marker),
            );
        }
        ruby_strip(&text).to_string()
    }

    /// The gem's `identify_line_content`: the kind of one line, first matching kind wins.
    fn classify(&self, line: &str) -> char {
        let lines = &self.lines;
        if lines.empty.is_match(line) {
            EMPTY
        } else if lines.delimiter.is_match(line) {
            DELIMITER
        } else if lines.is_signature(line) {
            SIGNATURE
        } else if self.on_date_wrote.iter().any(|m| m.is_match(line))
            || lines.embedded.is_match(line)
        {
            EMBEDDED
        } else if lines.email_header.is_match(line) {
            EMAIL_HEADER
        } else if lines.quote.is_match(line) {
            QUOTE
        } else {
            lines.code_fence(line)
        }
    }
}

/// The regexes of the gem's `preprocess!`.
struct Cleanup {
    pgp_header: Regex,
    pgp_signature: Regex,
    unsubscribe: Regex,
    alias_quote_marker: Regex,
    enclosed_quote: Regex,
    quote_prefix: Regex,
    quote_prefix_mark: Regex,
    /// The "someone wrote" markers that may be broken over lines, after `ON_DATE_SOMEONE_WROTE`.
    split_markers: Vec<Regex>,
    line_breaks: Regex,
}

impl Cleanup {
    fn new() -> Result<Self, regex::Error> {
        let split_markers = SOMEONE_WROTE_ON_DATE
            .iter()
            .chain(&DATE_SOMEONE_WROTE)
            .chain([&DATE_SOMEONE_EMAIL]);
        Ok(Self {
            pgp_header: Regex::new(
                r"(?i)\A-----BEGIN PGP SIGNED MESSAGE-----\n(?:Hash: [[:word:]]+)?[[:space:]]+",
            )?,
            pgp_signature: Regex::new(
                r"(?m)^-----BEGIN PGP SIGNATURE-----$(?s:.)+^-----END PGP SIGNATURE-----",
            )?,
            unsubscribe: Regex::new(r"(?mi)^Unsubscribe: .+@.+(?:\n.+http:.+)?[[:space:]]*\z")?,
            alias_quote_marker: Regex::new(r#"(?m)^.*>{5} "[^"\n]+" == .+ writes:"#)?,
            enclosed_quote: Regex::new(r"(?m)^>{4,}[\t\p{Zs}]*$\n((?s:.)+?)\n^<{4,}[\t\p{Zs}]*$")?,
            quote_prefix: Regex::new(r"(?m)^(?:[\t\p{Zs}]*\p{Alphabetic}*[>|])+")?,
            quote_prefix_mark: Regex::new(r"\p{Alphabetic}+>|\|")?,
            split_markers: split_markers
                .map(|pattern| Regex::new(pattern))
                .collect::<Result<_, _>>()?,
            line_breaks: Regex::new(r"\n+\s*")?,
        })
    }

    /// The clean-up steps that come before joining broken "someone wrote" markers.
    fn before_markers(&self, text: &str) -> String {
        let text = text.replace("\r\n", "\n");
        let text = self.pgp_header.replace(&text, "");
        let text = self.pgp_signature.replace_all(&text, "");
        let text = self.unsubscribe.replace_all(&text, "");
        let text = self.alias_quote_marker.replace_all(&text, "");
        let text = unwrap_labelled_quotes(&text);
        let text = self
            .enclosed_quote
            .replace_all(&text, |caps: &Captures| quote_lines(&caps[1]));
        self.unify_quote_prefixes(&text)
    }

    /// `Richard> text` and `| text` become `> text`.
    fn unify_quote_prefixes(&self, text: &str) -> String {
        let fix = |caps: &Captures| {
            self.quote_prefix_mark
                .replace_all(&caps[0], ">")
                .into_owned()
        };
        self.quote_prefix.replace_all(text, fix).into_owned()
    }

    /// A "someone wrote" marker put back on one line, unless it spans too many lines to be one.
    fn join_marker(&self, marker: &str) -> String {
        if marker.matches('\n').count() > MAX_MARKER_NEWLINES {
            marker.to_string()
        } else {
            self.line_breaks.replace_all(marker, " ").into_owned()
        }
    }
}

/// `gsub(/^>>> ?(.+) ?>>>$\n([\s\S]+?)\n^<<< ?\1 ?<<<$/) { $2.gsub(/^/, "> ") }`: the lines
/// between `>>> label >>>` and `<<< label <<<` become an ordinary quote.
///
/// The crate has no back-references, so the labels an opening line allows are listed in the
/// order Ruby's backtracking tries them, and the nearest line closing each is looked up in an
/// index of closing lines (a plain search would be quadratic in the number of lines).
fn unwrap_labelled_quotes(text: &str) -> String {
    let lines = line_spans(text);
    let closers = closing_lines(text, &lines);
    if closers.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut open) = (0, 0);
    while open < lines.len() {
        let Some(close) = labelled_block_end(text, &lines, &closers, open) else {
            open += 1;
            continue;
        };
        out.push_str(&text[copied..lines[open].start]);
        out.push_str(&quote_lines(
            &text[lines[open + 1].start..lines[close - 1].end],
        ));
        copied = lines[close].end;
        open = close + 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// For every label, the indexes of the lines `<<< ?LABEL ?<<<` that close it, in order.
fn closing_lines<'t>(text: &'t str, lines: &[Range<usize>]) -> HashMap<&'t str, Vec<usize>> {
    let mut closers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, span) in lines.iter().enumerate() {
        for label in closing_labels(&text[span.clone()]) {
            let found = closers.entry(label).or_default();
            if found.last() != Some(&index) {
                found.push(index);
            }
        }
    }
    closers
}

/// The labels `<<< ?LABEL ?<<<` can match on `line`.
fn closing_labels(line: &str) -> Vec<&str> {
    let Some(middle) = line
        .strip_prefix("<<<")
        .and_then(|rest| rest.strip_suffix("<<<"))
    else {
        return Vec::new();
    };
    let fronts = [Some(middle), middle.strip_prefix(' ')]
        .into_iter()
        .flatten();
    fronts
        .flat_map(|m| [Some(m), m.strip_suffix(' ')])
        .flatten()
        .filter(|label| !label.is_empty())
        .collect()
}

/// The line closing the labelled block that line `open` opens, if it opens one: the first
/// closing line for the first label that has one, with at least one character between.
fn labelled_block_end(
    text: &str,
    lines: &[Range<usize>],
    closers: &HashMap<&str, Vec<usize>>,
    open: usize,
) -> Option<usize> {
    let body_start = lines.get(open + 1)?.start;
    opening_labels(&text[lines[open].clone()])
        .into_iter()
        .find_map(|label| {
            let candidates = closers.get(label)?;
            let after = candidates.partition_point(|&close| close < open + 2);
            candidates[after..]
                .iter()
                .copied()
                .find(|&close| lines[close - 1].end > body_start)
        })
}

/// The labels `^>>> ?(.+) ?>>>$` can capture on `line`, in the order Ruby tries them.
fn opening_labels(line: &str) -> Vec<&str> {
    let Some(rest) = line.strip_prefix(">>>") else {
        return Vec::new();
    };
    let spaced = rest.strip_prefix(' ');
    let cores = spaced
        .into_iter()
        .chain([rest])
        .filter_map(|inner| inner.strip_suffix(">>>"));
    cores
        .flat_map(|core| [Some(core), core.strip_suffix(' ')])
        .flatten()
        .filter(|label| !label.is_empty())
        .collect()
}

/// Ruby's `body.gsub(/^/, "> ")`: every line quoted (no empty line added after a final newline).
fn quote_lines(body: &str) -> String {
    body.split_inclusive('\n')
        .map(|line| format!("> {line}"))
        .collect()
}

/// The parts of one of the gem's `ON_DATE_SOMEONE_WROTE_REGEXES`,
/// `/^[[:blank:]<>-]*(LEAD) (?:(?!\b(?>STOP)\b).)+?(TAIL)[[:blank:].:>-]*$/im`.
struct OnDateWroteSource {
    lead: &'static str,
    stop: &'static str,
    tail: &'static str,
}

/// "On 10/12/15 12:30, Jeff Atwood wrote:" in eleven languages.
const ON_DATE_SOMEONE_WROTE: [OnDateWroteSource; 11] = [
    // Chinese
    OnDateWroteSource {
        lead: "在",
        stop: "在|写道",
        tail: "写道",
    },
    // Dutch
    OnDateWroteSource {
        lead: "Op",
        stop: "Op|het[[:space:]]volgende[[:space:]]geschreven|schreef",
        tail: "het[[:space:]]volgende[[:space:]]geschreven|schreef[^:]+",
    },
    // English
    OnDateWroteSource {
        lead: "In message",
        stop: "In message|writes",
        tail: "writes",
    },
    OnDateWroteSource {
        lead: "On|At",
        stop: "On|wrote|writes|says|said",
        tail: "wrote|writes|says|said",
    },
    // French
    OnDateWroteSource {
        lead: "Le",
        stop: "Le|nous[[:space:]]a[[:space:]]dit|a[[:space:]]+écrit",
        tail: "nous[[:space:]]a[[:space:]]dit|a[[:space:]]+écrit",
    },
    // German
    OnDateWroteSource {
        lead: "Am",
        stop: "Am|schrieben[[:space:]]Sie",
        tail: "schrieben[[:space:]]Sie",
    },
    OnDateWroteSource {
        lead: "Am",
        stop: "Am|geschrieben",
        tail: "geschrieben|schrieb[^:]+",
    },
    // Italian
    OnDateWroteSource {
        lead: "Il",
        stop: "Il|ha[[:space:]]scritto",
        tail: "ha[[:space:]]scritto",
    },
    // Polish
    OnDateWroteSource {
        lead: "Dnia|Dňa",
        stop: "Dnia|Dňa|napisał",
        tail: r"napisał(?:\(a\))?",
    },
    // Portuguese
    OnDateWroteSource {
        lead: "Em",
        stop: "Em|escreveu",
        tail: "escreveu",
    },
    // Spanish
    OnDateWroteSource {
        lead: "El",
        stop: "El|escribió",
        tail: "escribió",
    },
];

/// One of the gem's `ON_DATE_SOMEONE_WROTE_REGEXES`, which the crate cannot compile: its lazy
/// body `(?:(?!\b(?>STOP)\b).)+?` needs a negative look-ahead.
///
/// The body is matched by hand: it runs (across lines, as `/m` lets `.` match a newline) from
/// the end of the lead up to the first place where a stop word starts on a word boundary, and
/// the match ends where the tail first matches after at least one body character. Alternation
/// inside the atomic group cannot change the outcome: no stop word is a prefix of another.
struct OnDateWrote {
    lead: Regex,
    stop: Regex,
    tail: Regex,
}

impl OnDateWrote {
    fn new(source: &OnDateWroteSource) -> Result<Self, regex::Error> {
        Ok(Self {
            lead: Regex::new(&format!(r"(?mi)^[\t\p{{Zs}}<>\-]*(?:{}) ", source.lead))?,
            stop: Regex::new(&format!(r"(?i)\b(?:{})\b", source.stop))?,
            tail: Regex::new(&format!(r"(?mi)(?:{})[\t\p{{Zs}}.:>\-]*$", source.tail))?,
        })
    }

    fn is_match(&self, line: &str) -> bool {
        OnDateScan::new(self).next_match(line, 0).is_some()
    }
}

/// A left-to-right scan of one haystack with an [`OnDateWrote`], as Ruby's `gsub` makes.
///
/// Stop words and tails are looked up through [`Ahead`], so a scan stays linear however many
/// lines begin with a lead.
struct OnDateScan<'m> {
    matcher: &'m OnDateWrote,
    stop: Ahead<'m>,
    tail: Ahead<'m>,
}

impl<'m> OnDateScan<'m> {
    fn new(matcher: &'m OnDateWrote) -> Self {
        Self {
            matcher,
            stop: Ahead::new(&matcher.stop),
            tail: Ahead::new(&matcher.tail),
        }
    }

    /// The first match starting at or after `from`; `hay` must be the same on every call.
    fn next_match(&mut self, hay: &str, from: usize) -> Option<Range<usize>> {
        let mut from = from;
        while let Some(lead) = self.matcher.lead.find_at(hay, from) {
            if let Some(end) = self.body_and_tail(hay, lead.end()) {
                return Some(lead.start()..end);
            }
            from = lead.end();
        }
        None
    }

    /// Where the match ends if a body starting at `body` can reach a tail.
    fn body_and_tail(&mut self, hay: &str, body: usize) -> Option<usize> {
        let first = hay[body..].chars().next()?;
        let tail = self.tail.find_at(hay, body + first.len_utf8())?;
        let stopped = self
            .stop
            .find_at(hay, body)
            .is_some_and(|stop| stop.start < tail.start);
        (!stopped).then_some(tail.end)
    }
}

/// The leftmost match of a regex at or after a position, remembering the last answer so that
/// a forward scan over one haystack searches each stretch of it once.
struct Ahead<'r> {
    regex: &'r Regex,
    /// Where the remembered search started, and what it found.
    last: Option<(usize, Option<Range<usize>>)>,
}

impl<'r> Ahead<'r> {
    fn new(regex: &'r Regex) -> Self {
        Self { regex, last: None }
    }

    fn find_at(&mut self, hay: &str, at: usize) -> Option<Range<usize>> {
        if let Some((from, found)) = &self.last
            && *from <= at
            && found.as_ref().is_none_or(|m| m.start >= at)
        {
            return found.clone();
        }
        let found = self.regex.find_at(hay, at).map(|m| m.range());
        self.last = Some((at, found.clone()));
        found
    }
}

/// "Op 10 dec. 2015 18:35 schreef "Arpit Jalan" <info@discourse.org>:"
const ON_DATE_WROTE_SOMEONE: [&str; 4] = [
    // Dutch
    r"(?m)^[\t\p{Zs}>]*Op[[:space:]].+[[:space:]]schreef[[:space:]][^:]+:",
    // German
    r"(?m)^[\t\p{Zs}>]*Am[[:space:]].+[[:space:]]schrieb[[:space:]][^:]+:",
    // Norwegian
    r"(?m)^[\t\p{Zs}>]*Den[[:space:]].+[[:space:]]skrev[[:space:]][^:]+:",
    // Dutch
    r"(?m)^[\t\p{Zs}>]*søn\.[[:space:]].+[[:space:]]skrev[[:space:]][^:]+:",
];

/// "суббота, 14 марта 2015 г. пользователь etewiah написал:"
const DATE_SOMEONE_WROTE: [&str; 3] = [
    // Russian
    r"[0-9]{4}.{1,80}пользователь.{0,80}\n?.{0,80}?написал:",
    // Polish
    r"[0-9]{4}.{1,80}\n?.{0,80}?napisał\(a\):",
    // Ukrainian
    r"[0-9]{4}.{1,80}\n?.{0,80}?пише:",
];

/// "Max Mustermann <try_discourse@discoursemail.com> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:"
const SOMEONE_WROTE_ON_DATE: [&str; 2] = [
    // English
    r"(?m)^.+\bwrote\b\s+\bon\b.+[^:]+:",
    // German
    r"(?m)^.+\bschrieb\b\s+\bam\b.+[^:]+:",
];

/// "2015-10-18 0:17 GMT+03:00 Matt Palmer <info@discourse.org>:"
const DATE_SOMEONE_EMAIL: &str = r"(?m)[0-9]{4}.{1,80}[[:space:]]?<[^@<>]+@[^@<>.]+\.[^@<>]+>:?$";

/// The rest of the gem's `EMBEDDED_REGEXES`.
const OTHER_EMBEDDED: [&str; 12] = [
    // "2016-03-03 17:21 GMT+01:00 Some One"
    r"(?m)^[\t\p{Zs}>]*20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} GMT\+[0-9]{2}:[0-9]{2} [[:word:]\t\p{Zs}]+$",
    // "codinghorror via Discourse Meta wrote:", in English and German
    r"(?m)^.+ via .+ wrote:?[\t\p{Zs}]*$",
    r"(?m)^.+ via .+ schrieb:?[\t\p{Zs}]*$",
    // "Some One <info@discourse.org> wrote:"
    r"(?m)^.+\b[[:word:].+\-]+@[[:word:].\-]+\.[[:word:]]{2,}\b.+wrote:?$",
    // "Posted by mpalmer on 01/21/2016"
    r"(?mi)^[\t\p{Zs}>]*Posted by .+ on [0-9]{2}/[0-9]{2}/[0-9]{4}$",
    // Forwarded and original messages: English, French, German, Spanish, Chinese
    r"(?mi)^[\t\p{Zs}>]*Begin forwarded message:",
    r"(?mi)^[\t\p{Zs}>*]*-{2,}[\t\p{Zs}]*(?:Forwarded|Original|Reply) Message[\t\p{Zs}]*-{2,}",
    r"(?mi)^[\t\p{Zs}>]*Début du message transféré :",
    r"(?mi)^[\t\p{Zs}>*]*-{2,}[\t\p{Zs}]*Message transféré[\t\p{Zs}]*-{2,}",
    r"(?mi)^[\t\p{Zs}>*]*-{2,}[\t\p{Zs}]*Ursprüngliche Nachricht[\t\p{Zs}]*-{2,}",
    r"(?mi)^[\t\p{Zs}>*]*-{2,}[\t\p{Zs}]*Mensaje original[\t\p{Zs}]*-{2,}",
    r"(?mi)^[\t\p{Zs}>*]*-{2,}[\t\p{Zs}]*原始邮件[\t\p{Zs}]*-{2,}",
];

/// "Envoyé depuis mon iPhone", "Sent from my TI-85", "(Sent from mobile device)", ...
const SIGNATURES: [&str; 15] = [
    // Chinese
    r"(?mi)^[\t\p{Zs}]*從我的 iPhone 傳送",
    // English
    r"(?mi)^[\t\p{Zs}]*\w+ from mobile",
    r"(?mi)^[\t\p{Zs}]*[(<]*Sent (?:from|via|with|by) .+[)>]*",
    r"(?mi)^[\t\p{Zs}]*From my .{1,20}",
    r"(?mi)^[\t\p{Zs}]*Get Outlook for ",
    // French
    r"(?mi)^[\t\p{Zs}]*Envoyé depuis (?:mon|Yahoo Mail)",
    // German
    r"(?mi)^[\t\p{Zs}]*Von meinem .+ gesendet",
    r"(?mi)^[\t\p{Zs}]*Diese Nachricht wurde von .+ gesendet",
    // Italian
    r"(?mi)^[\t\p{Zs}]*Inviato da ",
    // Norwegian
    r"(?mi)^[\t\p{Zs}]*Sendt fra min ",
    // Portuguese
    r"(?mi)^[\t\p{Zs}]*Enviado do meu ",
    // Spanish
    r"(?mi)^[\t\p{Zs}]*Enviado desde mi ",
    // Dutch
    r"(?mi)^[\t\p{Zs}]*Verzonden met ",
    r"(?mi)^[\t\p{Zs}]*Verstuurd vanaf mijn ",
    // Swedish
    r"(?mi)^[\t\p{Zs}]*från min ",
];

/// Header names followed by a date (Norwegian, English, French, German, Portuguese, Spanish,
/// Mexican Spanish, Italian, Dutch, Swedish, Chinese); matched case-sensitively.
const DATE_HEADERS: &str =
    "Sendt|Sent|Date|Le|Gesendet|Enviada em|Enviado|Fecha|Data|Datum|Skickat|发送时间";

/// Header names followed by text, in the same languages; matched case-insensitively.
const TEXT_HEADERS: &str = "Fra|Til|Emne|From|To|Cc|Reply-To|Subject|De|Expéditeur|À|Destinataire|Répondre à|Objet|\
    Von|An|Betreff|Para|Assunto|Asunto|Da|Risposta|A|Oggetto|Van|Beantwoorden - Aan|Aan|Onderwerp|Från|Till|Ämne|\
    发件人|收件人|主题";

/// The gem's line matchers, but for `ON_DATE_SOMEONE_WROTE` (see [`Matchers::on_date_wrote`]).
struct LineMatchers {
    empty: Regex,
    delimiter: Regex,
    markdown_link: Regex,
    signature: AnyOf,
    embedded: AnyOf,
    email_header: AnyOf,
    quote: Regex,
    code_open: Regex,
    code_close: Regex,
}

impl LineMatchers {
    fn new() -> Result<Self, regex::Error> {
        let embedded = ON_DATE_WROTE_SOMEONE
            .iter()
            .chain(&DATE_SOMEONE_WROTE)
            .chain([&DATE_SOMEONE_EMAIL]);
        let embedded = embedded
            .chain(&SOMEONE_WROTE_ON_DATE)
            .chain(&OTHER_EMBEDDED);
        Ok(Self {
            empty: Regex::new(r"(?m)^[\t\p{Zs}]*$")?,
            delimiter: Regex::new(r"(?m)^[\t\p{Zs}]*[\-_,=+~#*ᐧ—]+[\t\p{Zs}]*$")?,
            markdown_link: Regex::new(r"\[([^\]]+)\]\([^)]+\)")?,
            signature: AnyOf::new(SIGNATURES)?,
            embedded: AnyOf::new(embedded)?,
            email_header: AnyOf::new([
                format!(r"(?m)^[\t\p{{Zs}}*]*(?:{DATE_HEADERS})[\t\p{{Zs}}*]*:.*[0-9]+"),
                format!(r"(?mi)^[\t\p{{Zs}}*]*(?:{TEXT_HEADERS})[\t\p{{Zs}}*]*:.*\w+"),
            ])?,
            quote: Regex::new(r"(?m)^[\t\p{Zs}]*>")?,
            code_open: Regex::new(r"(?m)^```")?,
            code_close: Regex::new(r"(?m)^ {0,3}```[[:space:]]*$")?,
        })
    }

    /// A mobile signature, once markdown links are reduced to their text.
    fn is_signature(&self, line: &str) -> bool {
        self.signature
            .is_match(&self.markdown_link.replace_all(line, "${1}"))
    }

    /// The kind of a line that is none of the others: a code fence, or text.
    fn code_fence(&self, line: &str) -> char {
        match (
            self.code_open.is_match(line),
            self.code_close.is_match(line),
        ) {
            (true, true) => CODE_EITHER,
            (true, false) => CODE_OPEN,
            (false, true) => CODE_CLOSE,
            (false, false) => TEXT,
        }
    }
}

/// Regexes that match where any of them does. (A `RegexSet` means the same, but its combined
/// automaton is many times slower on these patterns' bounded repetitions.)
struct AnyOf(Vec<Regex>);

impl AnyOf {
    fn new<P: AsRef<str>>(patterns: impl IntoIterator<Item = P>) -> Result<Self, regex::Error> {
        let regexes = patterns
            .into_iter()
            .map(|pattern| Regex::new(pattern.as_ref()));
        regexes.collect::<Result<_, _>>().map(Self)
    }

    fn is_match(&self, text: &str) -> bool {
        self.0.iter().any(|regex| regex.is_match(text))
    }
}

/// The lines of the mail, with the kind of each at the same index of `pattern`.
struct Classified<'t> {
    pattern: String,
    lines: Vec<&'t str>,
}

impl Classified<'_> {
    /// Keeps the first `count` lines.
    fn keep(&mut self, count: usize) {
        self.pattern.truncate(count);
        self.lines.truncate(count);
    }

    /// Drops every line of the given kind.
    fn remove(&mut self, kind: char) {
        let lines = std::mem::take(&mut self.lines)
            .into_iter()
            .zip(self.pattern.chars());
        self.lines = lines
            .filter(|&(_, k)| k != kind)
            .map(|(line, _)| line)
            .collect();
        self.pattern.retain(|k| k != kind);
    }
}

/// The gem's trimming rules, regexes over the pattern of line kinds.
struct Rules {
    code_block: Regex,
    reply_at_end: Regex,
    reply_start: Regex,
    marker_without_quote: Regex,
    marker_with_quote: Regex,
    text_before_quote: Regex,
    split_headers: Regex,
    header_block: Regex,
    trailing_quote: Regex,
}

impl Rules {
    fn new() -> Result<Self, regex::Error> {
        Ok(Self {
            code_block: Regex::new("[cp][etd]*[xp]")?,
            reply_at_end: Regex::new("^b[^t]+t[et]*$")?,
            reply_start: Regex::new("t[et]*$")?,
            marker_without_quote: Regex::new("te*b[^q]*$")?,
            marker_with_quote: Regex::new("te*b[eqbh]*([te]*)$")?,
            text_before_quote: Regex::new("t?e*[qbe]+$")?,
            split_headers: Regex::new("h+[hte]+h+e")?,
            header_block: Regex::new("t[eq]*h{3,}")?,
            trailing_quote: Regex::new("[eq]+$")?,
        })
    }

    /// The lines of the reply proper, in the order of the gem's `trim`.
    fn select<'t>(&self, mut mail: Classified<'t>) -> Vec<&'t str> {
        self.hide_code_blocks(&mut mail);
        if let Some(delimiter) = mail.pattern.find(DELIMITER) {
            mail.keep(delimiter);
        }
        mail.remove(SIGNATURE);
        if let Some(start) = self.reply_at_end(&mail.pattern) {
            return mail.lines.split_off(start);
        }
        self.cut_embedded_mail(&mut mail);
        mail.remove(EMBEDDED);
        self.cut_headers(&mut mail);
        mail.remove(EMAIL_HEADER);
        if mail.pattern.contains(TEXT)
            && let Some(quote) = self.trailing_quote.find(&mail.pattern)
        {
            mail.keep(quote.start());
        }
        mail.lines
    }

    /// Upper-cases the kinds inside code blocks, so no lower-case rule sees them.
    fn hide_code_blocks(&self, mail: &mut Classified) {
        let hidden = self
            .code_block
            .replace_all(&mail.pattern, |caps: &Captures| {
                caps[0].to_ascii_uppercase()
            });
        mail.pattern = hidden.into_owned();
    }

    /// Where the reply starts when it comes after the quoted mail.
    fn reply_at_end(&self, pattern: &str) -> Option<usize> {
        if !self.reply_at_end.is_match(pattern) {
            return None;
        }
        self.reply_start.find(pattern).map(|m| m.start())
    }

    /// Drops an embedded mail (from its marker on) that follows some text.
    fn cut_embedded_mail(&self, mail: &mut Classified) {
        if let Some(marker) = self.marker_without_quote.find(&mail.pattern) {
            mail.keep(marker.start() + 1);
        }
        if let Some(caps) = self.marker_with_quote.captures(&mail.pattern)
            && let (Some(marker), Some(after)) = (caps.get(0), caps.get(1))
            && after.as_str().matches(TEXT).count() < TEXT_AFTER_QUOTE
        {
            mail.keep(marker.start() + 1);
        }
        if let Some(quote) = self.text_before_quote.find(&mail.pattern) {
            mail.keep(quote.start() + 1);
        }
    }

    /// Drops a block of three or more email headers after some text, and what follows it.
    fn cut_headers(&self, mail: &mut Classified) {
        if let Some(split) = self.split_headers.find(&mail.pattern) {
            let headers = EMAIL_HEADER.to_string().repeat(split.len());
            mail.pattern.replace_range(split.range(), &headers);
        }
        if let Some(block) = self.header_block.find(&mail.pattern) {
            mail.keep(block.start() + 1);
        }
    }
}

/// Ruby's `gsub` with a block: every match `next_match(from)` finds, left to right, replaced.
fn gsub(
    text: &str,
    mut next_match: impl FnMut(usize) -> Option<Range<usize>>,
    mut replace: impl FnMut(&str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    while let Some(found) =
        next_match(copied).filter(|found| found.start >= copied && !found.is_empty())
    {
        out.push_str(&text[copied..found.start]);
        out.push_str(&replace(&text[found.clone()]));
        copied = found.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte range of every line of `text`, newlines excluded.
fn line_spans(text: &str) -> Vec<Range<usize>> {
    let mut start = 0;
    text.split('\n')
        .map(|line| {
            let span = start..start + line.len();
            start = span.end + 1;
            span
        })
        .collect()
}

/// Ruby's `text.split("\n")`, which drops trailing empty lines.
fn ruby_split_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    while lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    lines
}

/// Ruby's `strip`, which only knows ASCII white space (and NUL).
fn ruby_strip(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, '\0' | '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// The text compared: each line and the whole without surrounding white space, as the
    /// gem's own test compares `strip`ped texts.
    fn comparable(text: &str) -> String {
        text.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    }

    /// The first line where `got` and `want` differ, for a failure message.
    fn first_difference(got: &str, want: &str) -> String {
        let show = |line: Option<&str>| {
            line.map_or("(end of text)".to_string(), |line| format!("{line:?}"))
        };
        let (mut got_lines, mut want_lines) = (got.lines(), want.lines());
        for number in 1.. {
            match (got_lines.next(), want_lines.next()) {
                (None, None) => break,
                (g, w) if g == w => continue,
                (g, w) => return format!("line {number}: got {}, want {}", show(g), show(w)),
            }
        }
        "no difference".to_string()
    }

    #[test]
    fn conformance_corpus() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email_reply_trimmer");
        let mut emails: Vec<_> = fs::read_dir(root.join("emails"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        emails.sort();
        let mut failures = Vec::new();
        for email in &emails {
            let name = email.file_name().unwrap();
            let got = comparable(&trim_reply(&fs::read_to_string(email).unwrap()));
            let want = comparable(&fs::read_to_string(root.join("trimmed").join(name)).unwrap());
            if got != want {
                failures.push(format!(
                    "{}: {}",
                    name.to_string_lossy(),
                    first_difference(&got, &want)
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            emails.len(),
            failures.join("\n")
        );
        assert_eq!(emails.len(), 64, "cases checked");
    }

    #[test]
    fn matchers_build() {
        if let Err(err) = Matchers::new() {
            panic!("a regex does not compile: {err}");
        }
    }

    #[test]
    fn marker_cuts_everything_below() {
        let mail = format!("approve\n\n{REPLY_MARKER}\nrequest 42: reboot the server\n");
        assert_eq!(trim_reply(&mail), "approve");
        let quoted = format!("deny\n\n> {REPLY_MARKER}\n> approve\n");
        assert_eq!(trim_reply(&quoted), "deny");
        let bottom_posted = format!(
            "On Thu, clawdbot wrote:\n> {REPLY_MARKER}\n> reply APPROVE or DENY\n\nYes, go ahead.\n"
        );
        assert_eq!(trim_reply(&bottom_posted), "Yes, go ahead.");
        let windows = format!("approve\r\n{REPLY_MARKER}\r\ndeny\r\n");
        assert_eq!(trim_reply(&windows), "approve");
        assert_eq!(trim_reply(&format!("{REPLY_MARKER}\napprove")), "");
    }

    #[test]
    fn marker_must_be_a_whole_line() {
        let mail = format!("approve, {REPLY_MARKER} as asked");
        assert_eq!(trim_reply(&mail), mail);
    }

    #[test]
    fn labelled_quotes_become_quotes() {
        let quoted = unwrap_labelled_quotes(">>> Bob >>>\nhi\nthere\n<<< Bob <<<\nme");
        assert_eq!(quoted, "> hi\n> there\nme");
        for untouched in [
            ">>> Bob >>>\nhi\n<<< Alice <<<",
            ">>> Bob >>>\n\n<<< Bob <<<",
            "<<< Bob <<<\n>>> Bob >>>\nhi",
        ] {
            assert_eq!(unwrap_labelled_quotes(untouched), untouched);
        }
        assert_eq!(
            opening_labels(">>> a b >>>"),
            ["a b ", "a b", " a b ", " a b"]
        );
        assert_eq!(closing_labels("<<< a <<<"), [" a ", " a", "a ", "a"]);
    }

    #[test]
    fn on_date_wrote_stops_at_a_stop_word() {
        let source = ON_DATE_SOMEONE_WROTE
            .iter()
            .find(|source| source.lead == "On|At");
        let english = OnDateWrote::new(source.unwrap()).unwrap();
        assert!(english.is_match("On Mon, Feb 1, 2016 at 4:58 AM, Some One <a@b.c> wrote:"));
        assert!(!english.is_match("On Monday we said nothing, on Tuesday he wrote:"));
        assert!(!english.is_match("On Monday he wrote: well"));
    }

    #[test]
    fn odd_input_does_not_panic() {
        let long_marker = format!("On {} wrote:", "é".repeat(10_000));
        let many_leads = "At é\n".repeat(5_000);
        for text in [
            "",
            " \n\t",
            ">",
            "> only\n> quotes",
            "\r\r\n\r",
            "```",
            "On é",
            "在 写道",
            &long_marker,
            &many_leads,
        ] {
            let _ = trim_reply(text);
        }
        // As in the gem, a mail that is all quote keeps its first line only.
        assert_eq!(trim_reply("> only\n> quotes"), "> only");
    }
}

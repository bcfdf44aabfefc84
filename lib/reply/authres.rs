//! A strict parser of the value of an `Authentication-Results` header (RFC 8601).
//!
//! The broker decides from this header whether the operator's reply is authenticated, and a
//! sender controls parts of it: the local part of `smtp.mailfrom`, which the receiving server
//! quotes (`"a\"b;dmarc=pass"@evil.example`), and any text it manages to get into a comment. So
//! the RFC 5322 lexical rules are applied in full (nested comments, quoted-pairs in comments and
//! quoted strings, folding white space) before anything is split at `;` or `=`, and anything
//! malformed is an error: the caller then treats the header as not authenticating.
//!
//! Deviations of real servers that are accepted: no white space after `;`, bare `key=value`
//! properties without a `ptype.` (Microsoft's `action=none`) and values with `=` in them
//! (Gmail's truncated base64 `header.b`).

use std::fmt;

/// Longer values are rejected unread: real headers are far shorter.
const MAX_LEN: usize = 64 * 1024;

/// Deeper comment nesting is rejected: nothing legitimate nests that deep.
const MAX_NESTING: usize = 64;

/// One `method=result` with its reason and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// The method in lower case, without its `/version` (`dkim/1` is `dkim`).
    pub method: String,
    /// The result in lower case.
    pub result: String,
    /// The `reason=` right after the result, unquoted.
    pub reason: Option<String>,
    /// The properties in order: the key in lower case as `ptype.property` (or a bare key such as
    /// `action`), the value unquoted with quoted-pairs resolved and its case kept.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The value of the first property named `key` (case-insensitive), if any.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The server that wrote the header, as written (compare it case-insensitively).
    pub authserv_id: String,
    /// The `authres-version` after the authserv-id, if any.
    pub version: Option<u32>,
    /// The results in order; empty for `; none`.
    pub results: Vec<MethodResult>,
}

/// Why a value could not be parsed (a short English reason, e.g. "unterminated comment").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn error(reason: impl Into<String>) -> ParseError {
    ParseError(reason.into())
}

/// Parse one header value (unfolded or not).
///
/// Anything malformed is an error, never a partial result: the header then authenticates nothing.
pub fn parse(value: &str) -> Result<AuthResults, ParseError> {
    if value.len() > MAX_LEN {
        return Err(error("value longer than 64 KiB"));
    }
    let mut parser = Parser {
        tokens: lex(value)?,
        pos: 0,
    };
    let authserv_id = parser.authserv_id()?;
    let version = parser.version()?;
    if !parser.eat_semicolon() {
        return Err(error("expected ';' after the authserv-id"));
    }
    let results = if parser.no_result()? {
        Vec::new()
    } else {
        parser.resinfos()?
    };
    Ok(AuthResults {
        authserv_id,
        version,
        results,
    })
}

/// What is left of the value once comments and white space are gone.
enum Tok {
    Semicolon,
    Equals,
    /// A run of characters other than white space, controls and `( ) " ; = \`.
    Word(String),
    /// A quoted string's content, quoted-pairs resolved and line breaks unfolded.
    Quoted(String),
}

struct Token {
    tok: Tok,
    /// Whether CFWS comes right before it: a value ends there.
    spaced: bool,
}

fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    let mut spaced = false;
    while let Some(c) = chars.next() {
        let tok = match c {
            ' ' | '\t' | '\r' | '\n' => {
                spaced = true;
                continue;
            }
            '(' => {
                skip_comment(&mut chars)?;
                spaced = true;
                continue;
            }
            ')' => return Err(error("unbalanced ')'")),
            '\\' => return Err(error("'\\' outside a quoted string or comment")),
            '"' => Tok::Quoted(quoted_string(&mut chars)?),
            ';' => Tok::Semicolon,
            '=' => Tok::Equals,
            _ => {
                check_control(c)?;
                let mut word = String::from(c);
                while let Some(&next) = chars.peek()
                    && !next.is_control()
                    && !matches!(next, ' ' | '(' | ')' | '"' | ';' | '=' | '\\')
                {
                    word.push(next);
                    chars.next();
                }
                Tok::Word(word)
            }
        };
        tokens.push(Token { tok, spaced });
        spaced = false;
    }
    Ok(tokens)
}

/// Skips a comment after its `(`. Its text is thrown away, so quotes in it mean nothing.
fn skip_comment(chars: &mut impl Iterator<Item = char>) -> Result<(), ParseError> {
    let mut depth = 1;
    while depth > 0 {
        match chars.next() {
            None => return Err(error("unterminated comment")),
            Some('(') if depth == MAX_NESTING => return Err(error("comments nested too deeply")),
            Some('(') => depth += 1,
            Some(')') => depth -= 1,
            Some('\\') => {
                quoted_pair(chars)?;
            }
            Some(c) => check_control(c)?,
        }
    }
    Ok(())
}

/// The content of a quoted string after its opening `"`.
fn quoted_string(chars: &mut impl Iterator<Item = char>) -> Result<String, ParseError> {
    let mut text = String::new();
    loop {
        match chars.next() {
            None => return Err(error("unterminated quoted string")),
            Some('"') => return Ok(text),
            Some('\\') => text.push(quoted_pair(chars)?),
            // Unfolding removes the line break and keeps the white space after it.
            Some('\r' | '\n') => {}
            Some(c) => {
                check_control(c)?;
                text.push(c);
            }
        }
    }
}

/// The character after a `\`: RFC 5322 allows a visible character or WSP.
fn quoted_pair(chars: &mut impl Iterator<Item = char>) -> Result<char, ParseError> {
    match chars.next() {
        None => Err(error("'\\' at the end of the value")),
        Some(c) if c.is_control() && c != '\t' => Err(error("invalid quoted-pair")),
        Some(c) => Ok(c),
    }
}

fn check_control(c: char) -> Result<(), ParseError> {
    if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
        Err(error("control character"))
    } else {
        Ok(())
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_tok(&self, ahead: usize) -> Option<&Tok> {
        self.tokens.get(self.pos + ahead).map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<&Tok> {
        let token = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(&token.tok)
    }

    fn eat_semicolon(&mut self) -> bool {
        let semicolon = matches!(self.peek_tok(0), Some(Tok::Semicolon));
        if semicolon {
            self.pos += 1;
        }
        semicolon
    }

    fn authserv_id(&mut self) -> Result<String, ParseError> {
        let id = match self.next() {
            Some(Tok::Word(w) | Tok::Quoted(w)) if !w.is_empty() => w.clone(),
            _ => return Err(error("missing authserv-id")),
        };
        // Microsoft sometimes omits it: the value then starts with `method=result`.
        if matches!(self.peek_tok(0), Some(Tok::Equals)) {
            return Err(error("missing authserv-id"));
        }
        Ok(id)
    }

    fn version(&mut self) -> Result<Option<u32>, ParseError> {
        let Some(Token {
            tok: Tok::Word(word),
            spaced: true,
        }) = self.peek()
        else {
            return Ok(None);
        };
        if !word.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("expected ';' after the authserv-id"));
        }
        let version = word
            .parse()
            .map_err(|_| error("authres-version out of range"))?;
        self.pos += 1;
        Ok(Some(version))
    }

    /// Whether the rest is `none` alone: the server checked nothing.
    fn no_result(&self) -> Result<bool, ParseError> {
        let none = matches!(self.peek_tok(0), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("none"));
        // `none=...` is a method that happens to be called `none`.
        if !none || matches!(self.peek_tok(1), Some(Tok::Equals)) {
            return Ok(false);
        }
        match self.peek_tok(1) {
            None => Ok(true),
            Some(_) => Err(error("text after 'none'")),
        }
    }

    fn resinfos(&mut self) -> Result<Vec<MethodResult>, ParseError> {
        let mut results = vec![self.resinfo()?];
        while self.eat_semicolon() {
            results.push(self.resinfo()?);
        }
        Ok(results)
    }

    /// One `method=result` and what follows it, up to the next `;` or the end.
    fn resinfo(&mut self) -> Result<MethodResult, ParseError> {
        let method = method_name(&self.word("a method")?)?;
        self.expect_equals(&method)?;
        let result = keyword(&self.word("a result")?, "result")?;
        if matches!(self.peek(), Some(t) if !t.spaced && !matches!(t.tok, Tok::Semicolon)) {
            return Err(error(format!("no space after {method}={result}")));
        }
        let mut reason = None;
        let mut properties = Vec::new();
        while let Some(token) = self.peek()
            && !matches!(token.tok, Tok::Semicolon)
        {
            let key = self.word("a property")?;
            self.expect_equals(&key)?;
            let value = self.value(&key)?;
            if key.eq_ignore_ascii_case("reason") && reason.is_none() && properties.is_empty() {
                reason = Some(value);
            } else {
                properties.push((property_name(&key)?, value));
            }
        }
        Ok(MethodResult {
            method,
            result,
            reason,
            properties,
        })
    }

    fn word(&mut self, what: &str) -> Result<String, ParseError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w.clone()),
            _ => Err(error(format!("expected {what}"))),
        }
    }

    fn expect_equals(&mut self, after: &str) -> Result<(), ParseError> {
        match self.next() {
            Some(Tok::Equals) => Ok(()),
            _ => Err(error(format!("expected '=' after {after:?}"))),
        }
    }

    /// A word or quoted string and whatever is glued to it without CFWS, so that
    /// `"a;b"@example.org` and `Abc+/=1x` are one value each.
    fn value(&mut self, key: &str) -> Result<String, ParseError> {
        let mut text = match self.next() {
            Some(Tok::Word(w) | Tok::Quoted(w)) => w.clone(),
            _ => return Err(error(format!("missing value for {key:?}"))),
        };
        while let Some(token) = self.peek()
            && !token.spaced
        {
            match &token.tok {
                Tok::Word(w) | Tok::Quoted(w) => text.push_str(w),
                Tok::Equals => text.push('='),
                Tok::Semicolon => break,
            }
            self.pos += 1;
        }
        Ok(text)
    }
}

/// The method without its `/version`, in lower case.
fn method_name(word: &str) -> Result<String, ParseError> {
    let name = match word.split_once('/') {
        Some((name, version))
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        Some(_) => return Err(error(format!("invalid method version in {word:?}"))),
        None => word,
    };
    keyword(name, "method")
}

/// `ptype.property`, or a bare key such as Microsoft's `action`, in lower case.
fn property_name(word: &str) -> Result<String, ParseError> {
    match word.split_once('.') {
        Some((ptype, property)) => Ok(format!(
            "{}.{}",
            keyword(ptype, "ptype")?,
            keyword(property, "property")?
        )),
        None => keyword(word, "property"),
    }
}

/// An RFC 8601 Keyword (letters, digits and hyphens) in lower case.
fn keyword(word: &str, what: &str) -> Result<String, ParseError> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(word.to_ascii_lowercase())
    } else {
        Err(error(format!("invalid {what} {word:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(parsed: &AuthResults) -> Vec<(&str, &str)> {
        parsed
            .results
            .iter()
            .map(|m| (m.method.as_str(), m.result.as_str()))
            .collect()
    }

    #[test]
    fn gmail() {
        let parsed = parse(
            "mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=20230601 \
             header.b=Abc+/=1x;\r\n       spf=pass (google.com: domain of ops@example.org \
             designates 192.0.2.1 as permitted sender) smtp.mailfrom=ops@example.org;\r\n       \
             dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.org;\r\n       \
             dara=pass header.i=@gmail.com",
        )
        .unwrap();
        assert_eq!(parsed.authserv_id, "mx.google.com");
        assert_eq!(parsed.version, None);
        assert_eq!(
            methods(&parsed),
            [
                ("dkim", "pass"),
                ("spf", "pass"),
                ("dmarc", "pass"),
                ("dara", "pass")
            ]
        );
        let dkim = &parsed.results[0];
        assert_eq!(dkim.property("header.i"), Some("@example.org"));
        assert_eq!(dkim.property("Header.B"), Some("Abc+/=1x"));
        assert_eq!(
            parsed.results[1].property("smtp.mailfrom"),
            Some("ops@example.org")
        );
        assert_eq!(
            parsed.results[2].property("header.from"),
            Some("example.org")
        );
        assert_eq!(parsed.results[3].property("header.i"), Some("@gmail.com"));
    }

    #[test]
    fn microsoft() {
        let rest = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; dkim=pass \
                    (signature was verified) header.d=example.org;dmarc=pass action=none \
                    header.from=example.org;compauth=pass reason=100";
        assert!(parse(rest).is_err(), "no authserv-id");
        let parsed = parse(&format!("mx.microsoft.com; {rest}")).unwrap();
        assert_eq!(parsed.authserv_id, "mx.microsoft.com");
        assert_eq!(
            methods(&parsed),
            [
                ("spf", "pass"),
                ("dkim", "pass"),
                ("dmarc", "pass"),
                ("compauth", "pass")
            ]
        );
        let dmarc = &parsed.results[2];
        assert_eq!(
            dmarc.properties,
            [
                ("action".to_string(), "none".to_string()),
                ("header.from".to_string(), "example.org".to_string())
            ]
        );
        let compauth = &parsed.results[3];
        assert_eq!(compauth.reason.as_deref(), Some("100"));
        assert!(compauth.properties.is_empty());
    }

    #[test]
    fn version_none_and_method_versions() {
        let parsed = parse("mx.example.org 1; dmarc=pass header.from=example.org").unwrap();
        assert_eq!(parsed.authserv_id, "mx.example.org");
        assert_eq!(parsed.version, Some(1));
        assert_eq!(methods(&parsed), [("dmarc", "pass")]);

        let parsed = parse("example.org; none").unwrap();
        assert_eq!(parsed.authserv_id, "example.org");
        assert!(parsed.results.is_empty());
        assert!(
            parse(" (c) example.org (c) ; (c) NONE (c) ")
                .unwrap()
                .results
                .is_empty()
        );
        assert_eq!(
            methods(&parse("example.org; none=pass").unwrap()),
            [("none", "pass")]
        );

        let parsed = parse("Example.ORG; DKIM/1 = Pass reason=\"good \\\"sig\\\"\"").unwrap();
        assert_eq!(parsed.authserv_id, "Example.ORG");
        assert_eq!(methods(&parsed), [("dkim", "pass")]);
        assert_eq!(parsed.results[0].reason.as_deref(), Some("good \"sig\""));
    }

    #[test]
    fn quoted_text_is_not_a_result() {
        let parsed = parse(
            "mx.google.com; spf=pass smtp.mailfrom=\"a\\\"b;dmarc=pass\"@evil.example; \
             dmarc=fail header.from=example.org",
        )
        .unwrap();
        assert_eq!(methods(&parsed), [("spf", "pass"), ("dmarc", "fail")]);
        assert_eq!(
            parsed.results[0].property("smtp.mailfrom"),
            Some("a\"b;dmarc=pass@evil.example")
        );

        let parsed = parse(
            "mx.google.com; spf=pass smtp.mailfrom=\"x\\)\"@e.example; \
             dmarc=fail header.from=e.example",
        )
        .unwrap();
        assert_eq!(methods(&parsed), [("spf", "pass"), ("dmarc", "fail")]);
        assert_eq!(
            parsed.results[0].property("smtp.mailfrom"),
            Some("x)@e.example")
        );

        let parsed =
            parse("mx.google.com; spf=pass smtp.mailfrom=\"(;\r\n dmarc=pass\"@e").unwrap();
        assert_eq!(methods(&parsed), [("spf", "pass")]);
        assert_eq!(
            parsed.results[0].property("smtp.mailfrom"),
            Some("(; dmarc=pass@e")
        );
    }

    #[test]
    fn comments_nest_and_escape() {
        let parsed = parse(
            "mx.google.com; dmarc=fail (a \\) b (nested; dmarc=pass) c) header.from=example.org",
        )
        .unwrap();
        assert_eq!(methods(&parsed), [("dmarc", "fail")]);
        assert_eq!(
            parsed.results[0].property("header.from"),
            Some("example.org")
        );

        // A quote inside a comment is plain text and does not hide the comment's end.
        let parsed = parse("mx.google.com; dmarc=fail (\") header.from=e.example").unwrap();
        assert_eq!(parsed.results[0].property("header.from"), Some("e.example"));

        let parsed = parse("mx.google.com(x);(y)dmarc(z)=(w)fail(v)header.from=e").unwrap();
        assert_eq!(methods(&parsed), [("dmarc", "fail")]);
        assert_eq!(parsed.results[0].property("header.from"), Some("e"));
    }

    #[test]
    fn malformed_values_fail_closed() {
        for value in [
            "",
            "   ",
            "mx.google.com",
            "mx.google.com;",
            "; dmarc=pass",
            "\"\"; dmarc=pass",
            "mx.google.com extra; dmarc=pass",
            "mx.google.com 99999999999; dmarc=pass",
            "mx.google.com; dmarc=pass;",
            "mx.google.com; dmarc=pass;; dkim=pass",
            "mx.google.com; none; dmarc=pass",
            "mx.google.com; dmarc=fail header.from=\"example.org",
            "mx.google.com; dmarc=fail (unterminated header.from=example.org",
            "mx.google.com; dmarc=fail (a (b) header.from=example.org",
            "mx.google.com; dmarc=fail (a \\) header.from=example.org",
            "mx.google.com; dmarc=fail) header.from=example.org",
            "mx.google.com; dmarc=fail header.from=example.org)",
            "mx.google.com; dmarc=fail header.from=\"a\\",
            "mx.google.com; dmarc=fail (a\\",
            "mx.google.com; dmarc=fail \\",
            "mx.google.com; dmarc=fail header.from=a\\b",
            "mx.google.com; =pass",
            "mx.google.com; dmarc=",
            "mx.google.com; dmarc=;",
            "mx.google.com; dmarc",
            "mx.google.com; dmarc pass",
            "mx.google.com; dmarc=pass@evil.example",
            "mx.google.com; dmarc=pass\"x\"",
            "mx.google.com; dmarc/=pass",
            "mx.google.com; dmarc/x=pass",
            "mx.google.com; dmarc=pass header.from=",
            "mx.google.com; dmarc=pass header.from= ;",
            "mx.google.com; dmarc=pass header.from",
            "mx.google.com; dmarc=pass .from=e",
            "mx.google.com; dmarc=pass header.=e",
            "mx.google.com; dmarc=pass header.from.x=e",
            "mx.google.com; dmarc=pa\u{1}ss",
            "mx.google.com; dmarc=fail (\u{7f})",
            "mx.google.com; dmarc=fail header.from=\"\u{0}\"",
            "mx.google.com; dmarc=fail header.from=\"\\\r\n \"",
        ] {
            assert!(parse(value).is_err(), "{value:?} parsed");
        }
    }

    #[test]
    fn work_is_bounded() {
        let nested = |depth: usize| {
            format!(
                "mx.google.com; dmarc=fail {}{} header.from=e",
                "(".repeat(depth),
                ")".repeat(depth)
            )
        };
        assert!(parse(&nested(MAX_NESTING)).is_ok());
        assert_eq!(
            parse(&nested(MAX_NESTING + 1)),
            Err(error("comments nested too deeply"))
        );

        let base = "mx.google.com; dmarc=fail";
        let padded = |len: usize| format!("{base}{}", " ".repeat(len - base.len()));
        assert!(parse(&padded(MAX_LEN)).is_ok());
        assert_eq!(
            parse(&padded(MAX_LEN + 1)),
            Err(error("value longer than 64 KiB"))
        );
    }

    /// xorshift64: enough randomness for generating headers, and reproducible.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Text an attacker would like to be read as structure.
    const HOSTILE: &[&str] = &[
        ";",
        "=",
        "dmarc=pass",
        "; dmarc=pass",
        "\"",
        "\\",
        "(",
        ")",
        "a",
        " ",
        "\r\n ",
    ];

    fn comment(rng: &mut Rng, depth: usize) -> String {
        let mut text = String::from("(");
        for _ in 0..rng.below(5) {
            if depth < 3 && rng.below(3) == 0 {
                text.push_str(&comment(rng, depth + 1));
                continue;
            }
            for c in rng.pick(HOSTILE).chars() {
                // Needless escapes are legal too.
                if matches!(c, '(' | ')' | '\\') || (c == 'a' && rng.below(2) == 0) {
                    text.push('\\');
                }
                text.push(c);
            }
        }
        text.push(')');
        text
    }

    /// A quoted string as written, and its content.
    fn quoted(rng: &mut Rng) -> (String, String) {
        let (mut raw, mut content) = (String::from("\""), String::new());
        for _ in 0..rng.below(6) {
            let piece = rng.pick(HOSTILE);
            for c in piece.chars() {
                if matches!(c, '"' | '\\') || (matches!(c, '(' | ')' | 'a') && rng.below(2) == 0) {
                    raw.push('\\');
                }
                raw.push(c);
            }
            content.push_str(&piece.replace("\r\n", ""));
        }
        raw.push('"');
        (raw, content)
    }

    /// CFWS; empty only if `optional`.
    fn cfws(rng: &mut Rng, optional: bool) -> String {
        match rng.below(7) {
            0 if optional => String::new(),
            1 => format!(" {} ", comment(rng, 0)),
            2 => comment(rng, 0),
            n => [" ", "\t", "\r\n ", "\r\n\t", "  "][n % 5].to_string(),
        }
    }

    /// A value as written, and as parsed.
    fn value(rng: &mut Rng) -> (String, String) {
        match rng.below(3) {
            0 => quoted(rng),
            1 => {
                let (raw, content) = quoted(rng);
                (
                    format!("{raw}@evil.example"),
                    format!("{content}@evil.example"),
                )
            }
            _ => {
                let token = rng.pick(&["example.org", "Abc+/=1x", "192.0.2.1", "@gmail.com", "1"]);
                (token.to_string(), token.to_string())
            }
        }
    }

    /// A resinfo as written after its `;`, and as parsed.
    fn resinfo(rng: &mut Rng, method: &str, result: &str) -> (String, MethodResult) {
        let mut raw = format!(
            "{}{method}{}={}{result}",
            cfws(rng, true),
            cfws(rng, true),
            cfws(rng, true)
        );
        let mut parsed = MethodResult {
            method: method.to_string(),
            result: result.to_string(),
            reason: None,
            properties: Vec::new(),
        };
        if rng.below(3) == 0 {
            let (text, reason) = value(rng);
            raw += &format!(
                "{}reason{}={}{text}",
                cfws(rng, false),
                cfws(rng, true),
                cfws(rng, true)
            );
            parsed.reason = Some(reason);
        }
        for _ in 0..rng.below(4) {
            let key = rng.pick(&[
                "smtp.mailfrom",
                "header.d",
                "header.i",
                "header.from",
                "action",
            ]);
            let (text, value) = value(rng);
            raw += &format!(
                "{}{key}{}={}{text}",
                cfws(rng, false),
                cfws(rng, true),
                cfws(rng, true)
            );
            parsed.properties.push((key.to_string(), value));
        }
        raw += &cfws(rng, true);
        (raw, parsed)
    }

    #[test]
    fn hostile_text_never_becomes_a_result() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let dmarc = rng.pick(&[
                "fail",
                "none",
                "temperror",
                "permerror",
                "softfail",
                "neutral",
                "policy",
            ]);
            let (before, after) = (rng.below(4), rng.below(4));
            let mut header = format!("mx.google.com{}", cfws(&mut rng, true));
            let mut expected = Vec::new();
            for i in 0..=before + after {
                let (method, result) = if i == before {
                    ("dmarc", dmarc)
                } else {
                    let method = rng.pick(&["spf", "dkim", "arc", "dara", "dkim-atps", "iprev"]);
                    (method, rng.pick(&["pass", "fail", "none", "neutral"]))
                };
                let (raw, parsed) = resinfo(&mut rng, method, result);
                header += ";";
                header += &raw;
                expected.push(parsed);
            }
            // A cut header is malformed or still free of a forged pass.
            for _ in 0..10 {
                let end = rng.below(header.len());
                if let Ok(parsed) = parse(&header[..end]) {
                    let forged = parsed
                        .results
                        .iter()
                        .any(|m| m.method == "dmarc" && m.result == "pass");
                    assert!(!forged, "{:?}", &header[..end]);
                }
            }
            // The generator writes only well-formed headers, so this one must parse.
            let parsed = parse(&header).unwrap_or_else(|e| panic!("{header:?}: {e}"));
            assert!(
                parsed
                    .results
                    .iter()
                    .filter(|m| m.method == "dmarc")
                    .all(|m| m.result == dmarc)
            );
            assert_eq!(parsed.results, expected, "{header:?}");
        }
    }
}

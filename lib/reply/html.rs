//! HTML mail bodies as text a person would see, for reading a reply.
//!
//! A reply's HTML part is read for two things: what the operator can see (an approval counts
//! only there) and everything else it holds (a veto counts anywhere, hidden or not). So the
//! conversion keeps two texts: the visible one, with quoted mail (`<blockquote>`, Gmail's,
//! Outlook's, Apple's and Thunderbird's quote containers) written as `> ` lines, the way a
//! plain-text client quotes; and the hidden one (`display:none`, `visibility:hidden`, a tiny
//! font, no opacity, white on white, the `hidden` attribute, Outlook's `mso-hide`).
//!
//! This is no full HTML parser and needs not be: whatever it misreads only ever moves text
//! between the visible and the hidden side, and both are scanned for vetoes.

/// The text of an HTML body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text {
    /// What a person sees, quoted blocks as `> ` lines.
    pub visible: String,
    /// Text in the markup that a person does not see.
    pub hidden: String,
}

/// Elements whose content is no text: style sheets, scripts, the subject in `<title>`.
const INVISIBLE: &[&str] = &["style", "script", "title"];

/// Elements whose content some clients show and others do not: read as hidden text, so that
/// a veto in them still counts and an approval does not.
const MAYBE_SHOWN: &[&str] = &[
    "head", "template", "noscript", "object", "svg", "xml", "details", "iframe", "textarea",
    "select", "math",
];

/// Elements that start and end a line of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dd",
    "dt",
    "center",
    "address",
];

/// Elements without content or closing tag.
const VOID: &[&str] = &[
    "br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source",
];

/// An element on the stack, with what it does to its content.
#[derive(Debug, Clone)]
struct Open {
    name: String,
    hidden: bool,
    quote: bool,
    /// The colour of its text and of its background, inherited, as RGB.
    color: Option<[u8; 3]>,
    background: Option<[u8; 3]>,
}

/// Convert an HTML body. Input of any size and shape is accepted; the work is linear in it.
pub fn to_text(html: &str) -> Text {
    let mut out = Writer::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            out.text(rest, &stack);
            break;
        };
        out.text(&rest[..lt], &stack);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            // As browsers do: "<!-->" and "<!--->" close at once.
            if let Some(closed) = after.strip_prefix('>').or_else(|| after.strip_prefix("->")) {
                rest = closed;
                continue;
            }
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(end) = tag_end(rest) else {
            // A '<' that opens no tag is text.
            out.text("<", &stack);
            rest = &rest[1..];
            continue;
        };
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = tag_name(name);
            if BLOCKS.contains(&name.as_str()) {
                out.line_break();
            }
            if let Some(at) = stack.iter().rposition(|open| open.name == name) {
                stack.truncate(at);
            }
            continue;
        }
        let name = tag_name(tag);
        if name.is_empty() {
            continue;
        }
        if INVISIBLE.contains(&name.as_str()) && !tag.ends_with('/') {
            // Skip to the matching close tag: style sheets and scripts are no text at all.
            let skipped = find_ignoring_case(rest, &format!("</{name}")).unwrap_or(rest.len());
            // Text a style sheet generates (`content: "…"`) is text nonetheless.
            if name == "style" {
                for generated in css_content(&rest[..skipped]) {
                    out.hidden_text(&generated);
                }
            }
            rest = &rest[skipped..];
            rest = rest.find('>').map_or("", |gt| &rest[gt + 1..]);
            continue;
        }
        if BLOCKS.contains(&name.as_str()) {
            out.line_break();
        }
        if name == "hr" {
            out.text("---", &stack);
            out.line_break();
        }
        if VOID.contains(&name.as_str()) || tag.ends_with('/') {
            if name == "img"
                && let Some(alt) = attribute(tag, "alt")
            {
                out.text(&alt, &stack);
            }
            // A form field shows its value; read it, for vetoes only.
            if name == "input"
                && let Some(value) = attribute(tag, "value")
            {
                out.hidden_text(&value);
            }
            continue;
        }
        // Past a sane depth, elements inherit what encloses them: a hostile nesting costs
        // no more than a flat one.
        if stack.len() < MAX_DEPTH {
            let open = open_element(&name, tag, stack.last());
            stack.push(open);
        }
    }
    out.finish()
}

/// The deepest element tracked.
const MAX_DEPTH: usize = 256;

/// Where `needle` (ASCII) starts in `haystack`, ignoring ASCII case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// Where the tag that `text` starts with ends (its `>`), skipping quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let first = *bytes.get(1)?;
    if !(first.is_ascii_alphabetic() || matches!(first, b'/' | b'!' | b'?')) {
        return None;
    }
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i),
            None => {}
        }
    }
    None
}

fn tag_name(tag: &str) -> String {
    tag.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The value of an attribute, entities decoded; `Some("")` for a bare attribute.
fn attribute(tag: &str, wanted: &str) -> Option<String> {
    let mut rest = tag.trim_start();
    rest = rest.trim_start_matches(|c: char| !c.is_whitespace());
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/' || c == '>')
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_lowercase();
        rest = rest[name_len..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, left) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = left;
            value
        } else {
            ""
        };
        if name == wanted {
            return Some(decode_entities(value));
        }
        if name_len == 0 {
            // Not an attribute name: skip a character so the loop moves on.
            rest = rest.get(1..).unwrap_or("");
        }
    }
}

/// What an element does to its content, given its parent.
fn open_element(name: &str, tag: &str, parent: Option<&Open>) -> Open {
    let style = attribute(tag, "style")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut color = parent.and_then(|p| p.color);
    let mut background = parent.and_then(|p| p.background);
    if let Some(c) = attribute(tag, "color").and_then(|c| parse_color(&c)) {
        color = Some(c);
    }
    if let Some(c) = attribute(tag, "bgcolor").and_then(|c| parse_color(&c)) {
        background = Some(c);
    }
    let declarations = declarations(&style);
    for (property, value) in &declarations {
        match property.as_str() {
            "color" => color = parse_color(value).or(color),
            "background" | "background-color" => background = parse_color(value).or(background),
            _ => {}
        }
    }
    let hidden_style = declarations
        .iter()
        .any(|(property, value)| hides(property, value));
    let same_colour = match (color, background.unwrap_or([255, 255, 255])) {
        (Some(fg), bg) => close_colours(fg, bg),
        (None, _) => false,
    };
    let hidden = parent.is_some_and(|p| p.hidden)
        || MAYBE_SHOWN.contains(&name)
        || attribute(tag, "hidden").is_some()
        || hidden_style
        || same_colour;
    // Only a <blockquote> quotes; the reader then counts it as quoted only below an
    // attribution ("On … wrote:"), as it does `>` lines.
    let quote = parent.is_some_and(|p| p.quote) || name == "blockquote";
    Open {
        name: name.to_string(),
        hidden,
        quote,
        color,
        background,
    }
}

/// The strings of `content:` declarations in a style sheet.
fn css_content(sheet: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = sheet.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("content") {
        let start = from + at + "content".len();
        let rest = sheet[start..].trim_start();
        if let Some(value) = rest.strip_prefix(':') {
            let end = value.find([';', '}']).unwrap_or(value.len());
            let text: String = value[..end]
                .chars()
                .filter(|c| !matches!(c, '"' | '\''))
                .collect();
            if !text.trim().is_empty() {
                found.push(text.trim().to_string());
            }
        }
        from = start;
    }
    found
}

/// CSS declarations of a `style` attribute, lower case, as (property, value).
fn declarations(style: &str) -> Vec<(String, String)> {
    style
        .split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(p, v)| {
            (
                p.trim().to_string(),
                v.replace("!important", "").trim().to_string(),
            )
        })
        .collect()
}

/// Whether one declaration makes text invisible.
fn hides(property: &str, value: &str) -> bool {
    let number = |v: &str| -> Option<f64> {
        let digits: String = v
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        digits.parse().ok()
    };
    match property {
        "display" => value.starts_with("none"),
        "visibility" => value.starts_with("hidden") || value.starts_with("collapse"),
        "mso-hide" => value.starts_with("all"),
        "opacity" => number(value).is_some_and(|n| n < 0.1),
        "font-size" | "line-height" | "max-height" | "height" | "max-width" | "width" => {
            // 0, 0px, 1px: too small to read. Percent and em of 0 too.
            property.starts_with("font") && number(value).is_some_and(|n| n < 4.0)
                || !property.starts_with("font") && number(value).is_some_and(|n| n <= 1.0)
        }
        "text-indent" | "left" | "top" | "margin-left" | "margin-top" => {
            number(value).is_some_and(|n| n <= -500.0)
        }
        "color" => value.starts_with("transparent"),
        "clip" | "clip-path" => value.contains("rect(0") || value.contains("inset(50%"),
        _ => false,
    }
}

/// `#fff`, `#ffffff`, `white`, `rgb(255, 255, 255)`, a few more names.
fn parse_color(value: &str) -> Option<[u8; 3]> {
    let value = value.trim().to_ascii_lowercase();
    let value = value.split_whitespace().next().unwrap_or("");
    if let Some(hex) = value.strip_prefix('#') {
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()?;
        return match digits.as_slice() {
            [r, g, b] | [r, g, b, _] => Some([r * 17, g * 17, b * 17]),
            [r1, r2, g1, g2, b1, b2] | [r1, r2, g1, g2, b1, b2, _, _] => {
                Some([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2])
            }
            _ => None,
        };
    }
    if let Some(inner) = value
        .strip_prefix("rgb(")
        .or_else(|| value.strip_prefix("rgba("))
    {
        let parts: Vec<u8> = inner
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .ok()
                    .map(|n| n.clamp(0.0, 255.0) as u8)
            })
            .collect::<Option<_>>()?;
        return match parts.as_slice() {
            [r, g, b] => Some([*r, *g, *b]),
            _ => None,
        };
    }
    match value {
        "white" | "snow" | "ivory" | "ghostwhite" | "whitesmoke" => Some([255, 255, 255]),
        "black" => Some([0, 0, 0]),
        _ => None,
    }
}

/// Text and background so alike that the text cannot be read.
fn close_colours(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b.iter()).all(|(x, y)| x.abs_diff(*y) <= 24)
}

/// Collects the two texts, line by line.
#[derive(Default)]
struct Writer {
    visible: String,
    hidden: String,
    line: String,
    /// Whether the line being written is quoted.
    quoted: bool,
}

impl Writer {
    fn text(&mut self, raw: &str, stack: &[Open]) {
        if raw.is_empty() {
            return;
        }
        let decoded = decode_entities(raw);
        let top = stack.last();
        let quoted = top.is_some_and(|o| o.quote);
        // Quoted mail is no one's words here, hidden or not.
        if top.is_some_and(|o| o.hidden) && !quoted {
            self.hidden_text(&decoded);
            return;
        }
        let pre = stack.iter().any(|o| o.name == "pre");
        for (i, piece) in decoded.split('\n').enumerate() {
            if i > 0 {
                if pre {
                    self.line_break();
                } else {
                    self.space();
                }
            }
            let words = piece.split_whitespace().collect::<Vec<_>>().join(" ");
            if words.is_empty() {
                if !piece.is_empty() {
                    self.space();
                }
                continue;
            }
            if self.line.trim().is_empty() {
                self.quoted = quoted;
            } else if quoted != self.quoted {
                // Quoted and own text never share a line.
                self.line_break();
                self.quoted = quoted;
            }
            if piece.starts_with(char::is_whitespace) {
                self.space();
            }
            self.line.push_str(&words);
            if piece.ends_with(char::is_whitespace) {
                self.space();
            }
        }
    }

    fn space(&mut self) {
        if !self.line.is_empty() && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
    }

    fn hidden_text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        let words = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
        if !words.is_empty() {
            self.hidden.push_str(&words);
            self.hidden.push('\n');
        }
    }

    fn line_break(&mut self) {
        let line = self.line.trim();
        if line.is_empty() {
            if !self.visible.ends_with("\n\n") && !self.visible.is_empty() {
                self.visible.push('\n');
            }
        } else {
            if self.quoted {
                self.visible.push_str("> ");
            }
            self.visible.push_str(line);
            self.visible.push('\n');
        }
        self.line.clear();
        self.quoted = false;
    }

    fn finish(mut self) -> Text {
        self.line_break();
        let mut visible = self.visible.trim_end().to_string();
        if !visible.is_empty() {
            visible.push('\n');
        }
        Text {
            visible,
            hidden: self.hidden,
        }
    }
}

/// Decode character references: numeric ones and the named ones mail clients write.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "rsquo" | "lsquo" => '\'',
        "ldquo" | "rdquo" | "bdquo" => '"',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "shy" | "zwnj" | "zwj" => '\u{200B}',
        "eacute" => 'é',
        "egrave" => 'è',
        "euml" => 'ë',
        "iuml" => 'ï',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "auml" => 'ä',
        "aacute" => 'á',
        "oacute" => 'ó',
        "ecirc" => 'ê',
        "ccedil" => 'ç',
        "copy" => '©',
        "reg" => '®',
        "euro" => '€',
        "middot" => '·',
        "bull" => '•',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_become_quoted_lines() {
        let text = to_text(
            "<div dir=\"ltr\">Yes, go ahead</div><br><div class=\"gmail_quote\"><div>On Tue wrote:</div><blockquote>Will run: x<br>Risk: high</blockquote></div>",
        );
        assert_eq!(
            text.visible,
            "Yes, go ahead\n\nOn Tue wrote:\n\n> Will run: x\n> Risk: high\n"
        );
        assert!(text.hidden.is_empty());
    }

    #[test]
    fn hidden_text_is_kept_apart() {
        for html in [
            "<p>Yes</p><div style=\"display:none\">do not run</div>",
            "<p>Yes</p><span style=\"font-size:0px\">do not run</span>",
            "<p>Yes</p><font color=\"#ffffff\">do not run</font>",
            "<p>Yes</p><p hidden>do not run</p>",
            "<p>Yes</p><span style=\"color: rgb(255,255,255)\">do not run</span>",
            "<p>Yes</p><span style=\"opacity:0\">do not run</span>",
            "<p>Yes</p><span style=\"mso-hide:all\">do not run</span>",
            "<p>Yes</p><style>p{}</style><span style=\"visibility:hidden\">do not run</span>",
        ] {
            let text = to_text(html);
            assert_eq!(text.visible.trim(), "Yes", "{html}");
            assert!(text.hidden.contains("do not run"), "{html}: {text:?}");
        }
    }

    #[test]
    fn white_on_dark_is_visible() {
        let text =
            to_text("<div style=\"background:#000\"><span style=\"color:#fff\">No</span></div>");
        assert_eq!(text.visible.trim(), "No");
    }

    #[test]
    fn entities_and_broken_markup() {
        let text = to_text("Ja&nbsp;&amp; ok &#x1F44D; &bogus; <b>x < y");
        assert_eq!(text.visible.trim(), "Ja & ok 👍 &bogus; x < y");
        let text = to_text("<div style=\"display:none\"");
        assert_eq!(text.visible.trim(), "<div style=\"display:none\"");
        assert_eq!(to_text("").visible, "");
    }

    #[test]
    fn rules_are_separators() {
        let text = to_text("<p>OK</p><hr><p>Wait, no.</p>");
        assert_eq!(text.visible, "OK\n\n---\n\nWait, no.\n");
    }
}

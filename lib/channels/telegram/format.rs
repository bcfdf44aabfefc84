//! Text for Telegram: HTML parse mode, so that nothing a request or a mail carries can open a
//! tag or an entity, and messages within Telegram's 4,096-character limit.

/// Telegram's limit on one message's text, in UTF-16 code units after entity parsing.
pub const LIMIT: usize = 4096;

/// Escape text for `parse_mode: HTML`: only `<`, `>` and `&` are special there.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Split plain text into pieces of at most `limit` UTF-16 code units, at a line break where
/// one is near the end, else at a space, else anywhere between characters. Escape each piece
/// after splitting: an entity is never cut, and `&lt;` counts as one character to Telegram.
pub fn split(text: &str, limit: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut units = 0;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            units += c.len_utf16();
            if units > limit {
                end = i;
                break;
            }
        }
        if end < rest.len() {
            // Prefer the last line break in the second half, then the last space.
            let window = &rest[..end];
            let floor = end / 2;
            if let Some(at) = window.rfind('\n').filter(|&at| at >= floor) {
                end = at + 1;
            } else if let Some(at) = window.rfind(' ').filter(|&at| at >= floor) {
                end = at + 1;
            }
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_shown_not_obeyed() {
        assert_eq!(
            escape("<b>x</b> & <a href=\"http://evil\">y</a> &amp;"),
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href=\"http://evil\"&gt;y&lt;/a&gt; &amp;amp;"
        );
    }

    #[test]
    fn long_text_splits_within_the_limit_and_loses_nothing() {
        let line = "0123456789 abcdefghij émoji 😀 <&>\n";
        let text = line.repeat(400);
        let pieces = split(&text, LIMIT);
        assert!(pieces.len() > 1);
        assert_eq!(pieces.concat(), text);
        for piece in &pieces {
            assert!(piece.encode_utf16().count() <= LIMIT);
            assert!(piece.ends_with('\n') || std::ptr::eq(*piece, *pieces.last().unwrap()));
        }
        // No break anywhere: cut between characters, never inside one.
        let solid = "😀".repeat(3000);
        let pieces = split(&solid, LIMIT);
        assert_eq!(pieces.concat(), solid);
        assert!(pieces.iter().all(|p| p.encode_utf16().count() <= LIMIT));
        assert!(split("", LIMIT).is_empty());
    }
}

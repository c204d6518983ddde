//! Text shaping for sends: splitting long replies into chunks the platform
//! accepts, and turning markdown into plain text for bots without markdown
//! rights (spec §8).

use std::ops::Range;

/// Default chunk size in characters. The platform documents no limit; overflow
/// answers 40054007/40054018, and the spec advises assuming 2000–3000 (§8).
pub const DEFAULT_MAX_CHARS: usize = 2000;

/// How good a cut point is; higher is better. (Anywhere else is a hard cut.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Whitespace,
    Sentence,
    Line,
    Paragraph,
}

/// Splits `text` into chunks of at most `max_chars` characters (Unicode scalar
/// values, not bytes).
///
/// Cuts are chosen, in order of preference, at a paragraph break, a line
/// break, a sentence end (`。！？；…` and `.!?` followed by a space), any
/// whitespace, and only then anywhere. A preferred cut is used only if it
/// keeps the chunk at least 30 % full, so a early blank line does not produce a
/// tiny chunk. A cut never falls inside a character, between `\r` and `\n`,
/// before a combining mark, variation selector, emoji modifier or joiner
/// (so emoji sequences stay whole), or inside a `http(s)://` URL, unless a
/// single such unit is longer than `max_chars`. Inside a fenced code block
/// only line breaks are used, so code lines stay whole where possible.
///
/// Whitespace at a cut is dropped (chunk ends are trimmed, continuation
/// chunks lose their leading line breaks), every chunk is non-empty, and the
/// chunks together hold all non-whitespace characters of `text` in order. An
/// empty or all-whitespace `text` gives no chunks. `max_chars` of 0 is treated
/// as 1.
pub fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let urls = url_spans(text);
    let code = code_spans(text);
    let mut chunks = Vec::new();
    let mut start = 0;
    loop {
        start = skip_leading(text, start, &code);
        let rest = &text[start..];
        if rest.trim().is_empty() {
            break;
        }
        let Some(limit) = rest.char_indices().nth(max_chars).map(|(i, _)| start + i) else {
            push_chunk(&mut chunks, rest);
            break;
        };
        let cut = find_cut(text, start, limit, max_chars, &urls, &code);
        push_chunk(&mut chunks, &text[start..cut]);
        start = cut;
    }
    chunks
}

fn push_chunk(chunks: &mut Vec<String>, chunk: &str) {
    let chunk = chunk.trim_end();
    if !chunk.trim_start().is_empty() {
        chunks.push(chunk.to_owned());
    }
}

/// Skips line breaks at the start of a continuation chunk, and other
/// whitespace too outside code (where indentation matters).
fn skip_leading(text: &str, mut pos: usize, code: &[Range<usize>]) -> usize {
    if pos == 0 {
        return 0;
    }
    for (i, c) in text[pos..].char_indices() {
        let at = pos + i;
        let keep_indent = in_any(code, at);
        if c == '\n' || c == '\r' || (c.is_whitespace() && !keep_indent) {
            continue;
        }
        pos = at;
        return pos;
    }
    text.len()
}

/// The byte index in `(start, limit]` where the chunk starting at `start`
/// ends. `limit` is the byte index just past `max_chars` characters and is a
/// char boundary strictly inside `text`.
fn find_cut(
    text: &str,
    start: usize,
    limit: usize,
    max_chars: usize,
    urls: &[Range<usize>],
    code: &[Range<usize>],
) -> usize {
    let min_chars = (max_chars * 3 / 10).max(1);
    // Candidate cut positions: every char boundary after the first char.
    let mut best: Option<(Level, usize)> = None;
    let mut best_hard: Option<usize> = None;
    let mut best_any_boundary: Option<usize> = None;
    let mut chars_before = 0usize;
    let window = &text[start..limit];
    let mut prev: Option<char> = None;
    for (i, c) in window
        .char_indices()
        .chain(std::iter::once((limit - start, text[limit..].chars().next().unwrap_or('\n'))))
    {
        let pos = start + i;
        let Some(p) = prev else {
            prev = Some(c);
            chars_before = 1;
            continue;
        };
        // `pos` is the cut between `p` and `c`; `chars_before` chars precede it.
        if boundary_ok(text, pos, p, c) {
            best_any_boundary = Some(pos);
            if !inside_any(urls, pos) {
                best_hard = Some(pos);
                if chars_before >= min_chars {
                    if let Some(level) = level_at(text, pos, p, c, in_any(code, pos)) {
                        if best.is_none_or(|(l, _)| level >= l) {
                            best = Some((level, pos));
                        }
                    }
                }
            }
        }
        prev = Some(c);
        chars_before += 1;
    }
    best.map(|(_, pos)| pos).or(best_hard).or(best_any_boundary).unwrap_or(limit)
}

/// The kind of break a cut at `pos` (between `p` and `c`) would be, if any.
fn level_at(text: &str, pos: usize, p: char, c: char, in_code: bool) -> Option<Level> {
    if c == '\n' || (c == '\r' && text[pos..].starts_with("\r\n")) {
        let after = text[pos..].trim_start_matches('\r');
        let after = after.strip_prefix('\n').unwrap_or(after);
        let next_line_blank = after.trim_start_matches([' ', '\t', '\r']).starts_with('\n');
        let prev_line_blank = text[..pos].ends_with('\n') || text[..pos].ends_with("\n\r");
        return Some(if next_line_blank || prev_line_blank {
            Level::Paragraph
        } else {
            Level::Line
        });
    }
    if in_code {
        return None;
    }
    let before_p = text[..pos - p.len_utf8()].chars().next_back();
    if is_sentence_end(before_p, p, c) {
        return Some(Level::Sentence);
    }
    if c.is_whitespace() {
        return Some(Level::Whitespace);
    }
    None
}

/// Whether a cut between `p` and `c` (with `b` before `p`) follows a
/// sentence end, including one closed by a quote or bracket: `他说：“好。”|`.
fn is_sentence_end(b: Option<char>, p: char, c: char) -> bool {
    const CJK_END: &[char] = &['。', '！', '？', '；', '…'];
    const CLOSERS: &[char] = &['”', '’', '」', '』', '）', ')', '"', '\''];
    let ends = |x: char, next: char| {
        (CJK_END.contains(&x) && !CJK_END.contains(&next) && !CLOSERS.contains(&next))
            || (matches!(x, '.' | '!' | '?') && next.is_whitespace())
    };
    ends(p, c)
        || (CLOSERS.contains(&p)
            && b.is_some_and(|b| ends(b, c) || CJK_END.contains(&b))
            && !CLOSERS.contains(&c))
}

/// Whether cutting between `p` and `c` keeps grapheme-ish units whole.
fn boundary_ok(text: &str, pos: usize, p: char, c: char) -> bool {
    if p == '\r' && c == '\n' {
        return false;
    }
    if is_extend(c) || p == '\u{200D}' {
        return false;
    }
    if is_regional_indicator(p) && is_regional_indicator(c) {
        // Flags are pairs: only cut after an even number of indicators.
        let run = text[..pos].chars().rev().take_while(|&ch| is_regional_indicator(ch)).count();
        return run % 2 == 0;
    }
    true
}

/// Characters that extend the previous one.
fn is_extend(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F      // combining diacritics
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x20D0..=0x20FF    // combining marks for symbols, keycap
        | 0xFE20..=0xFE2F
        | 0xFE00..=0xFE0F    // variation selectors
        | 0x200D             // zero width joiner
        | 0x1F3FB..=0x1F3FF  // emoji skin tones
        | 0xE0020..=0xE007F  // tag characters (subdivision flags)
        | 0xE0100..=0xE01EF
        | 0x3099..=0x309A    // kana voicing marks
    )
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}

fn in_any(spans: &[Range<usize>], pos: usize) -> bool {
    spans.iter().any(|s| s.start <= pos && pos < s.end)
}

fn inside_any(spans: &[Range<usize>], pos: usize) -> bool {
    spans.iter().any(|s| s.start < pos && pos < s.end)
}

/// Byte ranges of `http://` / `https://` URLs: up to whitespace, a CJK
/// character or a closing bracket/quote.
fn url_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = find_scheme(&text[from..]) {
        let begin = from + found;
        let end = text[begin..]
            .char_indices()
            .find(|&(_, c)| {
                c.is_whitespace()
                    || !c.is_ascii()
                    || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']' | '}' | '`')
            })
            .map_or(text.len(), |(i, _)| begin + i);
        spans.push(begin..end);
        from = end.max(begin + 1);
    }
    spans
}

fn find_scheme(s: &str) -> Option<usize> {
    let a = s.find("http://");
    let b = s.find("https://");
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Byte ranges of the contents of fenced code blocks (``` or ~~~ fences).
/// An unclosed fence runs to the end of the text.
fn code_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let fence = if trimmed.starts_with("```") {
            Some("```")
        } else if trimmed.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (open, fence) {
            (None, Some(f)) => open = Some((offset + line.len(), f)),
            (Some((begin, f)), Some(g)) if f == g => {
                spans.push(begin..offset);
                open = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some((begin, _)) = open {
        spans.push(begin..text.len());
    }
    spans
}

/// Turns markdown into readable plain text, for bots whose markdown sends are
/// rejected (spec §6.7: 40034008–11 and friends).
///
/// - `# Heading` → `Heading`; `**bold**`, `*em*`, `__x__`, `_x_`, `~~x~~` and
///   `` `code` `` lose their markers (`snake_case` words are left alone);
/// - `[text](url)` → `text (url)` (just `url` when both are the same),
///   `![alt](url)` → `alt (url)`, `<https://…>` → `https://…`;
/// - fenced code blocks keep their contents verbatim, without the fence lines;
/// - list items, numbering, quotes and tables are kept as they are, with `*`
///   and `+` bullets written as `-`; `\*` escapes become the bare character.
pub fn markdown_to_plain(md: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut fence: Option<&str> = None;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = fence {
            if trimmed.starts_with(f)
                && trimmed.trim_start_matches(f.chars().next().unwrap()).trim().is_empty()
            {
                fence = None;
            } else {
                out.push(line.to_owned());
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        out.push(plain_line(line));
    }
    out.join("\n")
}

fn plain_line(line: &str) -> String {
    let indent_len = line.len() - line.trim_start().len();
    let (indent, body) = line.split_at(indent_len);
    let mut prefix = String::new();
    let mut body = body;
    // Headings.
    let hashes = body.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) && body[hashes..].starts_with([' ', '\t']) {
        body = body[hashes..].trim();
        body = body.trim_end_matches('#').trim_end();
        return format!("{indent}{}", inline(body));
    }
    // Thematic breaks stay as a line of dashes.
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() >= 3
        && (compact.chars().all(|c| c == '-')
            || compact.chars().all(|c| c == '*')
            || compact.chars().all(|c| c == '_'))
    {
        return format!("{indent}---");
    }
    // Bullets.
    for marker in ["* ", "+ ", "- "] {
        if let Some(rest) = body.strip_prefix(marker) {
            prefix.push_str("- ");
            body = rest;
            break;
        }
    }
    format!("{indent}{prefix}{}", inline(body))
}

/// Inline markdown → text. Code spans are taken verbatim.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('`') {
        let ticks = rest[open..].chars().take_while(|&c| c == '`').count();
        let fence = &rest[open..open + ticks];
        if let Some(close) = rest[open + ticks..].find(fence) {
            out.push_str(&text_segment(&rest[..open]));
            out.push_str(rest[open + ticks..open + ticks + close].trim());
            rest = &rest[open + ticks + close + ticks..];
        } else {
            break;
        }
    }
    out.push_str(&text_segment(rest));
    out
}

/// A segment without code spans: links, then emphasis, then escapes.
fn text_segment(s: &str) -> String {
    let s = links(s);
    let s = strip_pair(&s, "**", false);
    let s = strip_pair(&s, "__", true);
    let s = strip_pair(&s, "~~", false);
    let s = strip_pair(&s, "*", false);
    let s = strip_pair(&s, "_", true);
    unescape(&s)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if n.is_ascii_punctuation() {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// `[text](url)`, `![alt](url)` and `<scheme://…>`.
fn links(s: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        let c = bytes[i];
        if c == b'<' {
            if let Some(end) = s[i..].find('>') {
                let inner = &s[i + 1..i + end];
                if (inner.starts_with("http://") || inner.starts_with("https://"))
                    && !inner.contains(char::is_whitespace)
                {
                    out.push_str(inner);
                    i += end + 1;
                    continue;
                }
            }
        }
        let is_image = c == b'!' && bytes.get(i + 1) == Some(&b'[');
        if c == b'[' || is_image {
            let open = if is_image { i + 1 } else { i };
            if let Some((label, url, end)) = parse_link(s, open) {
                let label = label.trim();
                let url = url.trim();
                let url = url.split_once(' ').map_or(url, |(u, _)| u); // drop a "title"
                let url = url.trim_start_matches('<').trim_end_matches('>');
                if label.is_empty() || label == url {
                    out.push_str(url);
                } else {
                    out.push_str(label);
                    out.push_str(" (");
                    out.push_str(url);
                    out.push(')');
                }
                i = end;
                continue;
            }
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Parses `[label](url)` at byte `open` (the `[`), returning label, url and
/// the byte index after `)`.
fn parse_link(s: &str, open: usize) -> Option<(&str, &str, usize)> {
    let mut depth = 0usize;
    let mut close = None;
    for (i, c) in s[open..].char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    if !s[close + 1..].starts_with('(') {
        return None;
    }
    let url_start = close + 2;
    let mut depth = 1usize;
    for (i, c) in s[url_start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((
                        &s[open + 1..close],
                        &s[url_start..url_start + i],
                        url_start + i + 1,
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

/// Removes paired emphasis delimiters. An opener must be followed by a
/// non-space, a closer preceded by one; with `word_bound`, the delimiters must
/// also not touch letters or digits on their outer side (so `snake_case`
/// stays).
fn strip_pair(s: &str, delim: &str, word_bound: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut before: Option<char> = None;
    loop {
        let Some(open) = find_opener(rest, delim, before, word_bound) else {
            out.push_str(rest);
            return out;
        };
        let after_open = open + delim.len();
        let Some(close) = find_closer(&rest[after_open..], delim, word_bound) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[after_open..after_open + close];
        out.push_str(inner);
        before = inner.chars().last();
        rest = &rest[after_open + close + delim.len()..];
    }
}

fn find_opener(s: &str, delim: &str, mut before: Option<char>, word_bound: bool) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = s[from..].find(delim) {
        let at = from + found;
        let prev = s[..at].chars().last().or(before);
        let next = s[at + delim.len()..].chars().next();
        let ok_next = next.is_some_and(|c| !c.is_whitespace() && !delim.starts_with(c));
        let ok_prev = !word_bound || !prev.is_some_and(char::is_alphanumeric);
        let escaped = prev == Some('\\');
        if ok_next && ok_prev && !escaped && !delim.starts_with(prev.unwrap_or(' ')) {
            return Some(at);
        }
        from = at + delim.len();
        before = None;
    }
    None
}

fn find_closer(s: &str, delim: &str, word_bound: bool) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = s[from..].find(delim) {
        let at = from + found;
        let prev = s[..at].chars().last();
        let next = s[at + delim.len()..].chars().next();
        let ok_prev = prev.is_some_and(|c| !c.is_whitespace() && !delim.starts_with(c));
        let ok_next = !word_bound || !next.is_some_and(char::is_alphanumeric);
        let not_longer = !next.is_some_and(|c| delim.starts_with(c));
        if ok_prev && ok_next && not_longer && prev != Some('\\') {
            return Some(at);
        }
        from = at + delim.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn non_ws(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// The invariants every split must keep.
    fn check(text: &str, max: usize) -> Vec<String> {
        let chunks = split_text(text, max);
        for c in &chunks {
            assert!(!c.trim().is_empty(), "empty chunk in {chunks:?}");
            assert!(c.chars().count() <= max, "chunk over {max}: {c:?}");
        }
        assert_eq!(non_ws(&chunks.concat()), non_ws(text), "content lost for max {max}");
        chunks
    }

    #[test]
    fn short_text_is_one_chunk_and_empty_is_none() {
        assert_eq!(split_text("hello", 10), vec!["hello"]);
        assert!(split_text("", 10).is_empty());
        assert!(split_text(" \n\n ", 10).is_empty());
        assert_eq!(DEFAULT_MAX_CHARS, 2000);
    }

    #[test]
    fn prefers_paragraph_then_line_then_sentence_then_space() {
        let text = "aaaa bbbb. cccc\ndddd\n\neeee ffff";
        assert_eq!(check(text, 22), vec!["aaaa bbbb. cccc\ndddd", "eeee ffff"]);
        assert_eq!(check("aaaa bbbb. cccc\ndddd eeee", 22), vec!["aaaa bbbb. cccc", "dddd eeee"]);
        assert_eq!(check("aaaa bbbb. cccc dddd eeee", 18), vec!["aaaa bbbb.", "cccc dddd eeee"]);
        assert_eq!(check("aaaa bbbb cccc dddd", 12), vec!["aaaa bbbb", "cccc dddd"]);
        assert_eq!(check("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn early_breaks_do_not_make_tiny_chunks() {
        // The only paragraph break is at char 2 of a 20-char window: a space
        // near the end is the better cut.
        let text = "ab\n\ncdefghijklmn opqrstuvwxyz";
        let chunks = check(text, 20);
        assert_eq!(chunks[0], "ab\n\ncdefghijklmn");
    }

    #[test]
    fn chinese_sentences_split_after_punctuation() {
        let text = "今天天气很好。我们去公园散步吧！你觉得怎么样？好的；出发。";
        let chunks = check(text, 12);
        assert_eq!(
            chunks,
            vec!["今天天气很好。", "我们去公园散步吧！", "你觉得怎么样？好的；", "出发。"]
        );
        // No punctuation at all: hard cuts by characters, never bytes.
        // A closing quote stays with its sentence.
        assert_eq!(check("他说：“好。”然后走了。", 8), vec!["他说：“好。”", "然后走了。"]);
        let plain = "一二三四五六七八九十".repeat(3);
        let chunks = check(&plain, 7);
        assert!(chunks.iter().all(|c| c.chars().count() == 7 || c == chunks.last().unwrap()));
    }

    #[test]
    fn emoji_sequences_and_crlf_stay_whole() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let text = format!("{family}{family}{family}");
        for max in 1..12 {
            for c in check(&text, max.max(5)) {
                assert!(!c.starts_with('\u{200D}') && !c.ends_with('\u{200D}'), "{c:?}");
            }
        }
        let flags = "🇨🇳🇯🇵🇺🇸";
        let chunks = check(flags, 3);
        assert_eq!(chunks, vec!["🇨🇳", "🇯🇵", "🇺🇸"]);
        let thumbs = "👍🏽👍🏽👍🏽";
        assert_eq!(check(thumbs, 3), vec!["👍🏽", "👍🏽", "👍🏽"]);
        let accents = "e\u{301}e\u{301}e\u{301}";
        assert_eq!(check(accents, 3), vec!["e\u{301}", "e\u{301}", "e\u{301}"]);
        let crlf = "abc\r\ndef\r\nghi";
        for c in check(crlf, 4) {
            assert!(!c.starts_with('\n') && !c.ends_with('\r'), "{c:?}");
        }
    }

    #[test]
    fn urls_are_never_cut_when_avoidable() {
        let url = "https://example.com/a/very/long/path?with=query&and=more";
        let text = format!("see {url} for details and more words here");
        for max in url.len()..url.len() + 20 {
            let chunks = check(&text, max);
            assert!(chunks.iter().any(|c| c.contains(url)), "max {max}: {chunks:?}");
        }
        // A URL longer than the limit has to be cut, but nothing is lost.
        check(&format!("x {url} y"), 10);
    }

    #[test]
    fn code_block_lines_stay_whole() {
        let code =
            "```rust\nfn main() { println!(\"hi. there\"); }\nlet x = 1; let y = 2;\n```\nafter";
        let chunks = check(code, 50);
        assert!(
            chunks.iter().any(|c| c.contains("fn main() { println!(\"hi. there\"); }")),
            "{chunks:?}"
        );
        assert!(chunks.iter().any(|c| c.contains("let x = 1; let y = 2;")), "{chunks:?}");
        // Indentation inside code survives a cut.
        let indented = "```\nline one is here\n    indented line\n```";
        let chunks = check(indented, 25);
        assert!(chunks.iter().any(|c| c.starts_with("    indented")), "{chunks:?}");
    }

    #[test]
    fn invariants_hold_for_mixed_text_at_many_limits() {
        let text = "# 标题\n\nHello, 世界! This is a test。这是一段很长的中文文本，包含标点符号；还有 emoji 😀👍🏽🇨🇳 和链接 https://q.qq.com/qqbot/openclaw/connect.html?task_id=abc&_wv=2 。\r\n\r\n```\ncode line 1\ncode line 2\n```\n- item one\n- item two\n\nThe end... really? Yes!";
        for max in 1..=80 {
            check(text, max);
        }
        check(text, DEFAULT_MAX_CHARS);
    }

    #[test]
    fn markdown_becomes_plain_text() {
        let md = "# Title\n\nSome **bold**, *em*, __strong__ and ~~gone~~ text with `code` and snake_case_name.\n\n* one\n+ two\n- three\n1. first\n\nSee [the docs](https://example.com/docs) or <https://q.qq.com>.\n![logo](https://x.y/logo.png)\n[https://a.b](https://a.b)\n\n```rust\nlet x = **y**;\n```\n> quoted \\*stars\\*";
        let plain = markdown_to_plain(md);
        assert_eq!(
            plain,
            "Title\n\nSome bold, em, strong and gone text with code and snake_case_name.\n\n- one\n- two\n- three\n1. first\n\nSee the docs (https://example.com/docs) or https://q.qq.com.\nlogo (https://x.y/logo.png)\nhttps://a.b\n\nlet x = **y**;\n> quoted *stars*"
        );
    }

    #[test]
    fn markdown_edge_cases_do_not_lose_text() {
        assert_eq!(markdown_to_plain("2 * 3 * 4"), "2 * 3 * 4");
        assert_eq!(markdown_to_plain("a ** b"), "a ** b");
        assert_eq!(markdown_to_plain("[not a link] (x)"), "[not a link] (x)");
        assert_eq!(markdown_to_plain("**未闭合"), "**未闭合");
        assert_eq!(markdown_to_plain("## 中文标题 ##"), "中文标题");
        assert_eq!(markdown_to_plain("***"), "---");
        assert_eq!(markdown_to_plain("**粗体**和*斜体*"), "粗体和斜体");
    }
}

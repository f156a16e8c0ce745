//! Splitting a template's text at its actions: literal text with Go's trim markers applied,
//! comments dropped, and each action's body with the action as written and its byte offset.

use super::TemplateError;

/// The whitespace Go's trim markers remove, and that separates tokens in an action.
pub(super) const SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// Literal text (already trimmed), or an action's body with the action as written (shortened
/// for messages) and its byte offset.
pub(super) enum Segment<'s> {
    Text(&'s str),
    Action(&'s str, String, usize),
}

/// Splits `text` at its actions, applying trim markers and dropping comments; also tells
/// whether the text has no action at all.
pub(super) fn split_segments(text: &str) -> Result<(Vec<Segment<'_>>, bool), TemplateError> {
    let mut segments = Vec::new();
    let (mut pos, mut trim_next) = (0, false);
    while let Some(open) = text[pos..].find("{{").map(|found| pos + found) {
        let trim_left = text[open + 2..].starts_with('-') && text[open + 3..].starts_with(SPACE);
        let inner = if trim_left { open + 4 } else { open + 2 };
        push_text(&mut segments, &text[pos..open], trim_next, trim_left);
        let (body, after, trim_right) = close_action(text, open, inner)?;
        if let Some(body) = body {
            segments.push(Segment::Action(body, excerpt(&text[open..after]), open));
        }
        (pos, trim_next) = (after, trim_right);
    }
    push_text(&mut segments, &text[pos..], trim_next, false);
    Ok((segments, pos == 0))
}

fn push_text<'s>(segments: &mut Vec<Segment<'s>>, text: &'s str, start: bool, end: bool) {
    let text = if start {
        text.trim_start_matches(SPACE)
    } else {
        text
    };
    let text = if end {
        text.trim_end_matches(SPACE)
    } else {
        text
    };
    if !text.is_empty() {
        segments.push(Segment::Text(text));
    }
}

/// Finds the `}}` closing the action opened at `open` whose body starts at `inner`, skipping
/// quoted text. Returns the body (`None` for a comment), the index after the `}}`, and whether
/// a ` -}}` trims the text after it.
fn close_action(
    text: &str,
    open: usize,
    inner: usize,
) -> Result<(Option<&str>, usize, bool), TemplateError> {
    let closes_at = |i: usize| match text.get(i..) {
        Some(rest) if rest.starts_with("}}") => Some((i + 2, false)),
        Some(rest) if rest.starts_with(SPACE) && rest[1..].starts_with("-}}") => {
            Some((i + 4, true))
        }
        _ => None,
    };
    if text[inner..].starts_with("/*") {
        let Some(end) = text[inner + 2..].find("*/").map(|found| inner + found + 4) else {
            return Err(TemplateError::Unclosed {
                what: "comment",
                offset: open,
            });
        };
        let (after, trim) = closes_at(end).ok_or_else(|| TemplateError::Syntax {
            reason: "comment ends before closing delimiter".to_owned(),
            action: excerpt(&text[open..end]),
        })?;
        return Ok((None, after, trim));
    }
    let bytes = text.as_bytes();
    let (mut quote, mut i) = (None, inner);
    while let Some(&byte) = bytes.get(i) {
        match (quote, byte) {
            (Some(b'`'), b'`') | (Some(b'"'), b'"') | (Some(b'\''), b'\'') => quote = None,
            (Some(b'"' | b'\''), b'\\') => i += 1,
            (Some(b'"' | b'\''), b'\n') => break,
            (Some(_), _) => {}
            (None, b'"' | b'`' | b'\'') => quote = Some(byte),
            (None, _) => {
                if let Some((after, trim)) = closes_at(i) {
                    return Ok((Some(&text[inner..i]), after, trim));
                }
            }
        }
        i += 1;
    }
    match quote {
        Some(_) => Err(TemplateError::Syntax {
            reason: "unterminated quoted string".to_owned(),
            action: excerpt(&text[open..i.min(text.len())]),
        }),
        None => Err(TemplateError::Unclosed {
            what: "action",
            offset: open,
        }),
    }
}

/// The action as written, shortened when long.
fn excerpt(action: &str) -> String {
    match action.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &action[..cut]),
        None => action.to_owned(),
    }
}

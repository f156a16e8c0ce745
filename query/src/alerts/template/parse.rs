//! Parsing the segments of a template into its syntax tree: the list of nodes, and the
//! `{{ if }}`, `{{ else if }}`, `{{ else }}`, `{{ end }}` blocks that nest it. The pipeline of
//! each action is parsed in `action.rs`.

use super::action::{identifier_len, parse_pipeline, syntax};
use super::segments::{Segment, SPACE};
use super::tree::{Command, Node};
use super::{TemplateError, MAX_NESTING};

/// What ended a list of nodes: the text's end, `{{ end }}`, or `{{ else … }}` with the text
/// after `else`; with the action as written and its offset.
pub(super) enum Stop<'s> {
    Eof,
    End(String, usize),
    Else(&'s str, String, usize),
}

pub(super) type Segments<'s> = std::vec::IntoIter<Segment<'s>>;

/// Parses nodes up to the end of the text or an `{{ end }}` or `{{ else … }}` at this level;
/// `depth` counts the open `if`s.
pub(super) fn parse_list<'s>(
    segments: &mut Segments<'s>,
    depth: usize,
) -> Result<(Vec<Node>, Stop<'s>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(segment) = segments.next() {
        let (body, action, offset) = match segment {
            Segment::Text(text) => {
                nodes.push(Node::Text(text.to_owned()));
                continue;
            }
            Segment::Action(body, action, offset) => (body, action, offset),
        };
        match split_word(body) {
            ("if", _) if depth >= MAX_NESTING => {
                return Err(syntax(
                    format!("ifs nested deeper than {MAX_NESTING}"),
                    &action,
                ))
            }
            ("if", rest) => nodes.push(parse_if(segments, rest, action, offset, depth + 1)?),
            ("else", rest) => return Ok((nodes, Stop::Else(rest, action, offset))),
            ("end", rest) if rest.trim_matches(SPACE).is_empty() => {
                return Ok((nodes, Stop::End(action, offset)))
            }
            _ => {
                let pipeline = parse_pipeline(body, &action)?;
                nodes.push(Node::Print(pipeline, action));
            }
        }
    }
    Ok((nodes, Stop::Eof))
}

fn parse_if(
    segments: &mut Segments<'_>,
    condition: &str,
    action: String,
    offset: usize,
    depth: usize,
) -> Result<Node, TemplateError> {
    let unterminated = |action: String| TemplateError::UnterminatedIf { action, offset };
    let mut branches = Vec::new();
    let (mut condition, mut branch_action) = (parse_condition(condition, &action)?, action.clone());
    loop {
        let (body, stop) = parse_list(segments, depth)?;
        branches.push((condition, branch_action, body));
        let (rest, else_action) = match stop {
            Stop::Eof => return Err(unterminated(action)),
            Stop::End(..) => return Ok(Node::If(branches, Vec::new())),
            Stop::Else(rest, else_action, _) => (rest, else_action),
        };
        match split_word(rest) {
            ("if", rest) => condition = parse_condition(rest, &else_action)?,
            ("", rest) if rest.trim_matches(SPACE).is_empty() => {
                return match parse_list(segments, depth)? {
                    (otherwise, Stop::End(..)) => Ok(Node::If(branches, otherwise)),
                    (_, Stop::Eof) => Err(unterminated(action)),
                    (_, Stop::Else(_, action, _)) => Err(syntax("else after else", &action)),
                };
            }
            _ => return Err(syntax("unexpected text after else", &else_action)),
        }
        branch_action = else_action;
    }
}

fn parse_condition(body: &str, action: &str) -> Result<Vec<Command>, TemplateError> {
    if body.trim_matches(SPACE).is_empty() {
        return Err(syntax("missing condition for if", action));
    }
    parse_pipeline(body, action)
}

/// The leading identifier of `body` (after spaces), and the rest.
fn split_word(body: &str) -> (&str, &str) {
    let body = body.trim_start_matches(SPACE);
    body.split_at(identifier_len(body))
}

//! Templating of alerting-rule labels and annotations: the subset of Go's `text/template` that
//! Prometheus rule files use, parsed once by [`Template::parse`] and rendered per alert by
//! [`Template::render`].
//!
//! A template may contain:
//! - text, actions `{{ … }}` with Go's trim markers `{{- ` and ` -}}` (they remove the spaces,
//!   tabs, CRs and newlines next to the action), and comments `{{/* … */}}`;
//! - Prometheus' prelude `$labels`, `$value`, `$externalLabels`, `$externalURL`, the fields
//!   `.Labels`, `.Value`, `.ExternalLabels`, `.ExternalURL` (also `$.Labels`), label access
//!   `$labels.job`, and `index $labels "some-label"` for keys that are not identifiers;
//! - `"…"` strings with Go's escapes, `` `…` `` raw strings, ints, floats, `true`, `false`;
//! - pipelines `x | f "a"` (the piped value is the last argument) and `(…)` sub-pipelines;
//! - `{{ if }}`, `{{ else if }}`, `{{ else }}`, `{{ end }}` with Go's truthiness (a non-empty
//!   string or map, a non-zero number, `true`);
//! - Prometheus' `humanize`, `humanize1024`, `humanizeDuration`, `humanizePercentage`,
//!   `humanizeTimestamp`, `toUpper`, `toLower`, `title`, `match`, `reReplaceAll`, `stripPort`,
//!   and Go's `printf`, `len`, `index`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`.
//!
//! [`Template::parse`] rejects, naming the action: unknown functions, variables and fields;
//! Prometheus' query functions (`query`, `first`, `label`, `value`, `sortByLabel`…: templates are
//! rendered without a PromQL engine) and other functions not implemented here (`print`,
//! `urlquery`, `toTime`…); `range`, `with`, `define`, `template`, `block`; variable declarations;
//! wrong argument counts; literal regular expressions that do not compile; unclosed actions,
//! comments, strings, parentheses and `if`s.
//!
//! One deliberate difference from Go: comparing an int with a float compares the numbers, where
//! Go fails (`gt $value 1` works; Go needs `1.0`).
//!
//! The work is split along the way a template goes:
//! - `segments` splits the text at its actions, applying trim markers and dropping comments;
//! - `parse` builds the `tree` of nodes and `if` blocks, and `action` parses each action's
//!   pipeline, checking functions, argument counts, variables, fields and literal patterns;
//! - `render` evaluates the tree against [`TemplateData`], calling Prometheus' `functions`,
//!   Go's `printf` and Go's float formatting (`go_format`).
//!
//! The tests are in `template/tests.rs`.

mod action;
mod functions;
mod go_format;
mod parse;
mod printf;
mod render;
mod segments;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use go_format::go_format_float;
use parse::{parse_list, Stop};
use render::render_nodes;
use segments::split_segments;
use tree::Node;

/// How deeply `if`s and parentheses may nest: parsing and rendering recurse, and a template may
/// come from an API client.
const MAX_NESTING: usize = 64;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
    literal: bool,
}

/// What a template can read.
#[derive(Debug, Clone, Copy)]
pub struct TemplateData<'a> {
    /// The alert's labels (`$labels`, `.Labels`).
    pub labels: &'a BTreeMap<String, String>,
    /// The alert's value (`$value`, `.Value`).
    pub value: f64,
    /// The server's external labels (`$externalLabels`, `.ExternalLabels`); may be empty.
    pub external_labels: &'a BTreeMap<String, String>,
    /// The server's external URL (`$externalURL`, `.ExternalURL`); may be empty.
    pub external_url: &'a str,
}

/// Why a template does not parse; each variant names the action as written, or a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{{` has no matching `}}`, or a `{{/*` no matching `*/`.
    #[error("unclosed {what} at byte {offset}")]
    Unclosed {
        /// `action` or `comment`.
        what: &'static str,
        /// Byte offset of the `{{`.
        offset: usize,
    },
    /// An action is not valid: bad syntax, a wrong argument count, an invalid literal regular
    /// expression, an unknown field, an `else` or `end` with no open `if`.
    #[error("{reason} in {action}")]
    Syntax {
        /// What is wrong, such as `unterminated quoted string`.
        reason: String,
        /// The action as written.
        action: String,
    },
    /// A name that is not a function of Go's or Prometheus' templates.
    #[error("unknown function {name:?} in {action}")]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// The action as written.
        action: String,
    },
    /// A function or keyword of Go's or Prometheus' templates that these do not implement.
    #[error("{name:?} is not supported in alert templates ({reason}) in {action}")]
    Unsupported {
        /// The function or keyword.
        name: String,
        /// Why it is not supported.
        reason: &'static str,
        /// The action as written.
        action: String,
    },
    /// A `$variable` other than Prometheus' `$labels`, `$value`, `$externalLabels`,
    /// `$externalURL` and `$`.
    #[error("undefined variable {name:?} in {action}")]
    UndefinedVariable {
        /// The variable, with its `$`.
        name: String,
        /// The action as written.
        action: String,
    },
    /// An `{{ if }}` has no matching `{{ end }}`.
    #[error("unterminated if: {action} at byte {offset} has no matching {{{{ end }}}}")]
    UnterminatedIf {
        /// The `if` action as written.
        action: String,
        /// Byte offset of its `{{`.
        offset: usize,
    },
}

impl Template {
    /// Parses `text`. Text with no `{{` is a literal and always parses.
    ///
    /// # Errors
    ///
    /// A [`TemplateError`] for the first problem found: an unclosed `{{`, comment, string or
    /// `if`; invalid syntax; an unknown or unsupported function, keyword, variable or field; a
    /// wrong argument count; an invalid literal regular expression.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let (segments, literal) = split_segments(text)?;
        match parse_list(&mut segments.into_iter(), 0)? {
            (nodes, Stop::Eof) => Ok(Template { nodes, literal }),
            (_, Stop::End(action, offset) | Stop::Else(_, action, offset)) => {
                let reason = format!("unmatched action at byte {offset}: no if is open");
                Err(TemplateError::Syntax { reason, action })
            }
        }
    }

    /// Renders with `data`. Rendering never fails. A missing label renders as `""` (Prometheus'
    /// `missingkey=zero`), and a `printf` verb that does not fit its argument renders inline as
    /// Go's does (`%!d(float64=0.5)`). Any other failure, such as `humanize` of a label that is
    /// not a number, stops rendering, and the whole result is `<error expanding template: …>`
    /// naming the failure and the action: what Prometheus shows for a failed expansion.
    pub fn render(&self, data: &TemplateData<'_>) -> String {
        let mut out = String::new();
        match render_nodes(&self.nodes, data, &mut out) {
            Ok(()) => out,
            Err(message) => format!("<error expanding template: {message}>"),
        }
    }

    /// Reports whether the template is plain text: it has no action (not even a comment), so
    /// [`Template::render`] returns the text unchanged and a caller may skip rendering it.
    pub fn is_literal(&self) -> bool {
        self.literal
    }
}

/// Formats a float the way Go's `strconv.FormatFloat(v, 'e', -1, 64)` does, as Prometheus' API
/// shows alert values: "1e+00", "4.5e+01", "1.2345e-05", "NaN", "+Inf", "-Inf", "0e+00".
pub fn format_value_go_e(value: f64) -> String {
    go_format_float(value, b'e', None)
}

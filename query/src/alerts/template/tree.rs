//! The syntax tree a template parses into and renders from: nodes, pipelines of commands,
//! operands, the data's fields, and literal patterns compiled at parse time.

use regex::Regex;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Text(String),
    /// A pipeline whose value is printed, and the action as written.
    Print(Vec<Command>, String),
    /// Branches `(condition, action as written, body)`: the first true one runs, else the
    /// second field.
    If(Vec<(Vec<Command>, String, Vec<Node>)>, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Command {
    /// A value; only the first command of a pipeline may be one.
    Value(Operand),
    /// A function, its arguments (a piped value is appended) and its pattern, compiled at parse
    /// time when it is a literal.
    Call(&'static str, Vec<Operand>, Option<LiteralRegex>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A field of the data and, for a map, maybe a key: `$labels.job` is `(Labels, "job")`.
    Data(Field, Option<String>),
    Pipeline(Vec<Command>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Labels,
    Value,
    ExternalLabels,
    ExternalUrl,
}

/// A compiled literal pattern; equal when the patterns are.
#[derive(Debug, Clone)]
pub(super) struct LiteralRegex(pub(super) Regex);

impl PartialEq for LiteralRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

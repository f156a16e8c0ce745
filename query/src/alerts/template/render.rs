//! Rendering a parsed template: evaluating pipelines to Go-typed values, calling the functions,
//! comparing as Go's `eq` and `lt` do, and printing values as Go's `%v`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use regex::Regex;

use super::action::regex_error_reason;
use super::functions::{
    g4, go_title, humanize, humanize_1024, humanize_duration, humanize_timestamp, map_chars,
    strip_port,
};
use super::go_format::go_format_float;
use super::printf::go_sprintf;
use super::tree::{Command, Field, LiteralRegex, Node, Operand};
use super::TemplateData;

/// A value while rendering, typed as Go's templates see it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'d> {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Map(&'d BTreeMap<String, String>),
}

impl Value<'_> {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Map(_) => "map[string]string",
        }
    }

    /// Go's truthiness: a non-empty string or map, a non-zero number, `true`.
    fn is_true(&self) -> bool {
        match self {
            Value::Str(text) => !text.is_empty(),
            Value::Int(number) => *number != 0,
            Value::Float(number) => *number != 0.0,
            Value::Bool(truth) => *truth,
            Value::Map(map) => !map.is_empty(),
        }
    }

    /// Writes the value as Go's `%v` does (a map as `map[key:value …]`).
    fn write_go(&self, out: &mut String) {
        match self {
            Value::Str(text) => out.push_str(text),
            Value::Int(number) => out.push_str(&number.to_string()),
            Value::Float(number) => out.push_str(&go_format_float(*number, b'g', None)),
            Value::Bool(truth) => out.push_str(if *truth { "true" } else { "false" }),
            Value::Map(map) => {
                let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                let _ = write!(out, "map[{}]", pairs.join(" "));
            }
        }
    }

    pub(super) fn to_go_string(&self) -> String {
        let mut out = String::new();
        self.write_go(&mut out);
        out
    }

    fn as_str(&self) -> Result<&str, String> {
        match self {
            Value::Str(text) => Ok(text),
            other => Err(format!("expected string; got {}", other.type_name())),
        }
    }

    /// Converts as Prometheus' `convertToFloat` does: numbers, and strings that parse as one.
    fn to_float(&self) -> Result<f64, String> {
        match self {
            Value::Float(number) => Ok(*number),
            Value::Int(number) => Ok(*number as f64),
            Value::Str(text) => text
                .parse()
                .map_err(|_| format!("{text:?} is not a number")),
            other => Err(format!("can't convert {} to float", other.type_name())),
        }
    }
}

/// Renders `nodes` into `out`; an error names the failure and the action.
pub(super) fn render_nodes(
    nodes: &[Node],
    data: &TemplateData<'_>,
    out: &mut String,
) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Print(pipeline, action) => {
                let value = evaluate(pipeline, data).map_err(|err| format!("{err} in {action}"))?;
                value.write_go(out);
            }
            Node::If(branches, otherwise) => {
                let mut body = otherwise;
                for (condition, action, branch) in branches {
                    let value = evaluate(condition, data);
                    if value.map_err(|err| format!("{err} in {action}"))?.is_true() {
                        body = branch;
                        break;
                    }
                }
                render_nodes(body, data, out)?;
            }
        }
    }
    Ok(())
}

fn evaluate<'d>(pipeline: &[Command], data: &TemplateData<'d>) -> Result<Value<'d>, String> {
    let mut value = None;
    for command in pipeline {
        value = Some(match command {
            Command::Value(operand) => operand_value(operand, data)?,
            Command::Call(name, args, regex) => {
                call(name, args, value.take(), regex.as_ref(), data)?
            }
        });
    }
    value.ok_or_else(|| "empty pipeline".to_owned())
}

fn operand_value<'d>(operand: &Operand, data: &TemplateData<'d>) -> Result<Value<'d>, String> {
    let (map, key) = match operand {
        Operand::Bool(truth) => return Ok(Value::Bool(*truth)),
        Operand::Int(number) => return Ok(Value::Int(*number)),
        Operand::Float(number) => return Ok(Value::Float(*number)),
        Operand::Str(text) => return Ok(Value::Str(text.clone())),
        Operand::Pipeline(pipeline) => return evaluate(pipeline, data),
        Operand::Data(Field::Value, _) => return Ok(Value::Float(data.value)),
        Operand::Data(Field::ExternalUrl, _) => return Ok(Value::Str(data.external_url.into())),
        Operand::Data(Field::Labels, key) => (data.labels, key),
        Operand::Data(Field::ExternalLabels, key) => (data.external_labels, key),
    };
    Ok(match key {
        Some(key) => Value::Str(map.get(key).cloned().unwrap_or_default()),
        None => Value::Map(map),
    })
}

fn call<'d>(
    name: &str,
    args: &[Operand],
    piped: Option<Value<'d>>,
    regex: Option<&LiteralRegex>,
    data: &TemplateData<'d>,
) -> Result<Value<'d>, String> {
    if name == "and" || name == "or" {
        // Go's `and` returns its first false argument, `or` its first true one, else the last;
        // the arguments after that one are not evaluated.
        let mut last = None;
        for arg in args {
            let value = operand_value(arg, data)?;
            if value.is_true() == (name == "or") {
                return Ok(value);
            }
            last = Some(value);
        }
        return piped
            .or(last)
            .ok_or_else(|| format!("missing argument for {name}"));
    }
    let values: Result<Vec<_>, _> = args.iter().map(|arg| operand_value(arg, data)).collect();
    let mut values = values?;
    values.extend(piped);
    apply(name, &values, regex).map_err(|err| format!("error calling {name}: {err}"))
}

/// Calls a function other than `and` and `or` on its evaluated arguments.
fn apply<'d>(
    name: &str,
    args: &[Value<'d>],
    regex: Option<&LiteralRegex>,
) -> Result<Value<'d>, String> {
    use Value::{Bool, Int, Str};
    let order = |a, b| compare(a, b, true);
    Ok(match (name, args) {
        ("humanize", [value]) => Str(humanize(value.to_float()?)),
        ("humanize1024", [value]) => Str(humanize_1024(value.to_float()?)),
        ("humanizeDuration", [value]) => Str(humanize_duration(value.to_float()?)),
        ("humanizePercentage", [value]) => Str(format!("{}%", g4(value.to_float()? * 100.0))),
        ("humanizeTimestamp", [value]) => Str(humanize_timestamp(value.to_float()?)?),
        ("toUpper", [text]) => Str(map_chars(text.as_str()?, char::to_uppercase)),
        ("toLower", [text]) => Str(map_chars(text.as_str()?, char::to_lowercase)),
        ("title", [text]) => Str(go_title(text.as_str()?)),
        ("stripPort", [text]) => Str(strip_port(text.as_str()?).to_owned()),
        ("match", [pattern, text]) => Bool(compiled(regex, pattern)?.is_match(text.as_str()?)),
        ("reReplaceAll", [pattern, replacement, text]) => {
            let regex = compiled(regex, pattern)?;
            Str(regex
                .replace_all(text.as_str()?, replacement.as_str()?)
                .into_owned())
        }
        ("printf", [format, rest @ ..]) => Str(go_sprintf(format.as_str()?, rest)),
        ("len", [Str(text)]) => Int(i64::try_from(text.len()).unwrap_or(i64::MAX)),
        ("len", [Value::Map(map)]) => Int(i64::try_from(map.len()).unwrap_or(i64::MAX)),
        ("len", [other]) => return Err(format!("len of type {}", other.type_name())),
        ("index", [Value::Map(map), key]) => {
            Str(map.get(key.as_str()?).cloned().unwrap_or_default())
        }
        ("index", [other, _]) => {
            return Err(format!("can't index item of type {}", other.type_name()))
        }
        ("not", [value]) => Bool(!value.is_true()),
        ("eq", [first, rest @ ..]) => {
            let mut equal = false;
            for other in rest {
                equal = equal || compare(first, other, false)? == Some(Ordering::Equal);
            }
            Bool(equal)
        }
        ("ne", [a, b]) => Bool(compare(a, b, false)? != Some(Ordering::Equal)),
        ("lt", [a, b]) => Bool(order(a, b)? == Some(Ordering::Less)),
        ("le", [a, b]) => Bool(matches!(
            order(a, b)?,
            Some(Ordering::Less | Ordering::Equal)
        )),
        ("gt", [a, b]) => Bool(order(a, b)? == Some(Ordering::Greater)),
        ("ge", [a, b]) => Bool(matches!(
            order(a, b)?,
            Some(Ordering::Greater | Ordering::Equal)
        )),
        _ => return Err(format!("wrong number of arguments: {}", args.len())),
    })
}

/// The pattern compiled at parse time, or `pattern` compiled now.
fn compiled<'r>(
    literal: Option<&'r LiteralRegex>,
    pattern: &Value<'_>,
) -> Result<Cow<'r, Regex>, String> {
    match literal {
        Some(LiteralRegex(regex)) => Ok(Cow::Borrowed(regex)),
        None => Regex::new(pattern.as_str()?)
            .map(Cow::Owned)
            .map_err(|err| regex_error_reason(&err)),
    }
}

/// Compares as Go's `eq` and `lt` do, except that an int and a float compare as numbers.
/// `None` means unordered (NaN); `ordered` rejects booleans, as Go's `lt` does.
fn compare(a: &Value<'_>, b: &Value<'_>, ordered: bool) -> Result<Option<Ordering>, String> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.cmp(y))),
        (Value::Int(x), Value::Int(y)) => Ok(Some(x.cmp(y))),
        (Value::Bool(x), Value::Bool(y)) if !ordered => Ok(Some(x.cmp(y))),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            Ok(a.to_float()?.partial_cmp(&b.to_float()?))
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::Map(_), _) | (_, Value::Map(_)) => {
            Err("invalid type for comparison".to_owned())
        }
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )),
    }
}

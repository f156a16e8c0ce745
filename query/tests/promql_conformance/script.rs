//! Parses Prometheus' promqltest script language (`load`, `clear`, `eval instant`, `eval
//! range`, `expect …` lines and the expanding series notation) into [`Command`]s.

use sightline_query::promql::value::stale_nan;
use sightline_query::promql::Labels;

/// One loaded or expected series: labels, values (`None` for `_`), and whether it holds
/// native histogram samples (`{{…}}`), which are not parsed.
#[derive(Debug, Clone)]
pub struct SeriesLine {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
    pub native_histogram: bool,
}

/// What an eval expects besides its series.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// `expect fail`, with an optional `msg:` (exact) or `regex:` pattern.
    pub fail: Option<FailMatch>,
    pub ordered: bool,
    pub string: Option<String>,
    /// `expect range vector from A to B step S`, in ms.
    pub range_vector: Option<(i64, i64, i64)>,
}

#[derive(Debug, Clone)]
pub enum FailMatch {
    Any,
    Message(String),
    Regex(String),
}

#[derive(Debug, Clone)]
pub enum EvalKind {
    Instant {
        time_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

#[derive(Debug, Clone)]
pub struct Eval {
    pub line: usize,
    pub kind: EvalKind,
    pub expr: String,
    pub expect: Expectations,
    /// A bare number expected from a scalar result.
    pub scalar: Option<f64>,
    pub series: Vec<SeriesLine>,
    /// The raw expected lines, to spot native histogram expectations.
    pub raw_expected: String,
}

#[derive(Debug, Clone)]
pub enum Command {
    Load {
        interval_ms: i64,
        with_nhcb: bool,
        series: Vec<SeriesLine>,
    },
    Clear,
    Eval(Box<Eval>),
}

/// Says whether a line starts a new command (blocks usually end at a blank line, but not
/// always).
fn starts_command(line: &str) -> bool {
    let word = line.split_whitespace().next().unwrap_or("");
    matches!(
        word,
        "load"
            | "load_with_nhcb"
            | "clear"
            | "eval"
            | "eval_fail"
            | "eval_ordered"
            | "eval_warn"
            | "eval_info"
    )
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let block_start = i;
        let mut block = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && !starts_command(lines[i]) {
            if !lines[i].trim().starts_with('#') {
                block.push((i + 1, lines[i].trim()));
            }
            i += 1;
        }
        let context = |e: String| format!("line {block_start}: {e}");
        if line == "clear" {
            commands.push(Command::Clear);
        } else if let Some(rest) = line.strip_prefix("load_with_nhcb ") {
            commands.push(parse_load(rest, true, &block).map_err(context)?);
        } else if let Some(rest) = line.strip_prefix("load ") {
            commands.push(parse_load(rest, false, &block).map_err(context)?);
        } else if line.starts_with("eval") {
            let eval = parse_eval(block_start, line, &block).map_err(context)?;
            commands.push(Command::Eval(Box::new(eval)));
        } else {
            return Err(context(format!("unknown command {line:?}")));
        }
    }
    Ok(commands)
}

fn parse_load(interval: &str, with_nhcb: bool, block: &[(usize, &str)]) -> Result<Command, String> {
    let interval_ms = parse_duration_ms(interval.trim())?;
    let series = block
        .iter()
        .map(|(_, line)| parse_series_line(line))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Command::Load {
        interval_ms,
        with_nhcb,
        series,
    })
}

fn parse_eval(line_number: usize, line: &str, block: &[(usize, &str)]) -> Result<Eval, String> {
    let (command, rest) = line.split_once(' ').ok_or("eval without arguments")?;
    let mut expect = Expectations::default();
    match command {
        "eval" | "eval_warn" | "eval_info" => {}
        "eval_fail" => expect.fail = Some(FailMatch::Any),
        "eval_ordered" => expect.ordered = true,
        other => return Err(format!("unknown eval variant {other}")),
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (kind, skip_words) = match words.as_slice() {
        ["instant", "at", time, ..] => (
            EvalKind::Instant {
                time_ms: parse_duration_ms(time)?,
            },
            3,
        ),
        ["range", "from", start, "to", end, "step", step, ..] => (
            EvalKind::Range {
                start_ms: parse_duration_ms(start)?,
                end_ms: parse_duration_ms(end)?,
                step_ms: parse_duration_ms(step)?,
            },
            7,
        ),
        _ => return Err(format!("malformed eval {rest:?}")),
    };
    let expr = skip_words_of(rest, skip_words).to_string();
    let mut eval = Eval {
        line: line_number,
        kind,
        expr,
        expect,
        scalar: None,
        series: Vec::new(),
        raw_expected: String::new(),
    };
    for (_, text) in block {
        eval.raw_expected.push_str(text);
        eval.raw_expected.push('\n');
        if let Some(expectation) = text.strip_prefix("expect ") {
            parse_expect(expectation.trim(), &mut eval.expect)?;
        } else if let Some(value) = parse_number(text) {
            eval.scalar = Some(value);
        } else {
            eval.series.push(parse_series_line(text)?);
        }
    }
    Ok(eval)
}

/// Returns `text` after its first `n` whitespace-separated words.
fn skip_words_of(text: &str, n: usize) -> &str {
    let mut rest = text.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

fn parse_expect(text: &str, expect: &mut Expectations) -> Result<(), String> {
    let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim();
    match kind {
        "fail" => {
            expect.fail = Some(if let Some(message) = rest.strip_prefix("msg:") {
                FailMatch::Message(message.trim().to_string())
            } else if let Some(pattern) = rest.strip_prefix("regex:") {
                FailMatch::Regex(pattern.trim().to_string())
            } else {
                FailMatch::Any
            })
        }
        "ordered" => expect.ordered = true,
        "warn" | "info" | "no_warn" | "no_info" => {}
        "string" => {
            let quoted = rest.trim();
            let inner = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .or_else(|| quoted.strip_prefix('`').and_then(|q| q.strip_suffix('`')))
                .ok_or_else(|| format!("unquoted expected string {quoted:?}"))?;
            expect.string = Some(inner.to_string());
        }
        "range" => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                ["vector", "from", start, "to", end, "step", step] => {
                    expect.range_vector = Some((
                        parse_duration_ms(start)?,
                        parse_duration_ms(end)?,
                        parse_duration_ms(step)?,
                    ))
                }
                _ => return Err(format!("malformed expect range {rest:?}")),
            }
        }
        other => return Err(format!("unknown expectation {other:?}")),
    }
    Ok(())
}

/// Parses `50m`, `10s53ms`, `1h`, `0` or a plain number of seconds into ms.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds * 1000);
    }
    let mut total = 0i64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("bad duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            other => return Err(format!("bad duration unit {other:?} in {text:?}")),
        };
        total += number * unit_ms;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parses a float as the scripts write them (`1`, `-2.5e3`, `Inf`, `-inf`, `NaN`).
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    match body.to_ascii_lowercase().as_str() {
        "inf" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        body.parse::<f64>().ok().map(|v| sign * v)
    } else {
        None
    }
}

/// Parses `metric{a="b"} 1 2+3x4 _ stale …`.
pub fn parse_series_line(line: &str) -> Result<SeriesLine, String> {
    let labels_end = labels_end(line);
    let (labels_text, values_text) = line.split_at(labels_end);
    let labels = parse_labels(labels_text.trim())?;
    if values_text.contains("{{") {
        return Ok(SeriesLine {
            labels,
            values: Vec::new(),
            native_histogram: true,
        });
    }
    let mut values = Vec::new();
    for token in values_text.split_whitespace() {
        expand_token(token, &mut values)?;
    }
    Ok(SeriesLine {
        labels,
        values,
        native_histogram: false,
    })
}

/// The byte index where the labels part (name and `{…}`) ends.
fn labels_end(line: &str) -> usize {
    let mut in_quote: Option<char> = None;
    let mut escaped = false;
    let mut depth = 0;
    for (i, c) in line.char_indices() {
        if let Some(quote) = in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                in_quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_quote = Some(c),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            c if c.is_whitespace() && depth == 0 => return i,
            _ => {}
        }
    }
    line.len()
}

fn parse_labels(text: &str) -> Result<Labels, String> {
    if text == "{}" {
        return Ok(Labels::default());
    }
    let expr = promql_parser::parser::parse(text).map_err(|e| format!("labels {text:?}: {e}"))?;
    let promql_parser::parser::Expr::VectorSelector(selector) = expr else {
        return Err(format!("labels {text:?} are not a selector"));
    };
    let mut pairs: Vec<(String, String)> = selector
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(name) = selector.name {
        pairs.push(("__name__".to_string(), name));
    }
    Ok(Labels::new(pairs))
}

/// Expands one value token (`_`, `_x3`, `stale`, `5`, `1x3`, `1+2x3`, `-1-2x3`).
fn expand_token(token: &str, out: &mut Vec<Option<f64>>) -> Result<(), String> {
    let bad = || format!("bad series value {token:?}");
    let (base, times) = match token.rfind('x') {
        Some(i) => (
            &token[..i],
            Some(token[i + 1..].parse::<usize>().map_err(|_| bad())?),
        ),
        None => (token, None),
    };
    if base == "_" {
        out.extend(std::iter::repeat_n(None, times.unwrap_or(1)));
        return Ok(());
    }
    if base == "stale" {
        out.extend(std::iter::repeat_n(
            Some(stale_nan()),
            times.map_or(1, |n| n + 1),
        ));
        return Ok(());
    }
    // Split `a+b` / `a-b` at a sign that is not the leading one or an exponent's.
    let bytes = base.as_bytes();
    let split = (1..bytes.len())
        .find(|&i| (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    let (start, step) = match split {
        Some(i) => (
            parse_number(&base[..i]).ok_or_else(bad)?,
            parse_number(&base[i..]).ok_or_else(bad)?,
        ),
        None => (parse_number(base).ok_or_else(bad)?, 0.0),
    };
    let mut value = start;
    out.push(Some(value));
    for _ in 0..times.unwrap_or(0) {
        value += step;
        out.push(Some(value));
    }
    Ok(())
}

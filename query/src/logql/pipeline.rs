//! Runs a log expression's pipeline over one entry: line filters, the `json` and `logfmt`
//! parsers, label filters, `line_format`, `label_format`, `drop` and `keep`, with Loki's
//! semantics: extracted names are sanitised, a name that clashes with a stream label gets
//! `_extracted`, a parser or numeric filter that fails sets `__error__` (and
//! `__error_details__`) instead of dropping the line.

use std::collections::HashSet;

use sightline_model::Labels;

use super::ast::{
    Extraction, LabelFilter, LabelFormat, LabelSelection, LineFilter, LineFilterOp, NumberKind,
    PathPart, Stage, Template, TemplatePart, Unwrap,
};
use super::lexer::{parse_bytes, parse_duration_nanos};
use super::source::{sanitize_label_name, LogEntry};

/// The label a failed parser or filter sets.
pub const ERROR_LABEL: &str = "__error__";
/// The label holding the failure's detail.
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";
/// `__error__` of a line `| json` could not parse.
const JSON_ERROR: &str = "JSONParserErr";
/// `__error__` of a line `| logfmt` could not parse.
const LOGFMT_ERROR: &str = "LogfmtParserErr";
/// `__error__` of a label a numeric filter could not read.
const LABEL_FILTER_ERROR: &str = "LabelFilterErr";
/// `__error__` of a label `| unwrap` could not read.
const UNWRAP_ERROR: &str = "SampleExtractionErr";

/// Where a label came from, for Loki's `categorize-labels` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A stream label.
    Stream,
    /// Structured metadata of the entry.
    Metadata,
    /// Set by a pipeline stage.
    Parsed,
}

/// An entry on its way through the pipeline: its line and its labels by category. Names are
/// unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The entry's time.
    pub timestamp_unix_nano: u64,
    /// The line, as `line_format` last left it.
    pub line: String,
    /// Every label with its category.
    pub labels: Vec<(String, String, Category)>,
}

impl Row {
    /// Starts a row from a selected entry.
    pub fn new(entry: LogEntry) -> Self {
        let mut labels = Vec::with_capacity(entry.labels.len() + entry.metadata.len());
        for (name, value) in entry.labels.iter() {
            labels.push((name.to_string(), value.to_string(), Category::Stream));
        }
        let mut row = Self {
            timestamp_unix_nano: entry.timestamp_unix_nano,
            line: entry.line,
            labels,
        };
        for (name, value) in entry.metadata.iter() {
            row.set(name, value.to_string(), Category::Metadata);
        }
        row
    }

    /// Returns a label's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, value, _)| value.as_str())
    }

    fn category_of(&self, name: &str) -> Option<Category> {
        self.labels
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, category)| *category)
    }

    /// Sets a label; an existing label keeps its place but takes the new category.
    fn set(&mut self, name: &str, value: String, category: Category) {
        match self.labels.iter_mut().find(|(n, _, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                slot.2 = category;
            }
            None => self.labels.push((name.to_string(), value, category)),
        }
    }

    /// Sets a label a parser extracted: a clash with a stream label becomes `name_extracted`;
    /// an empty value sets nothing (an empty label is an absent one).
    fn set_extracted(&mut self, name: String, value: String) {
        if value.is_empty() {
            return;
        }
        let name = if self.category_of(&name) == Some(Category::Stream) {
            format!("{name}_extracted")
        } else {
            name
        };
        self.set(&name, value, Category::Parsed);
    }

    fn remove(&mut self, name: &str) {
        self.labels.retain(|(n, _, _)| n != name);
    }

    fn has_error(&self) -> bool {
        self.get(ERROR_LABEL).is_some()
    }

    fn set_error(&mut self, error: &str, details: String) {
        if !self.has_error() {
            self.set(ERROR_LABEL, error.to_string(), Category::Parsed);
            self.set(ERROR_DETAILS_LABEL, details, Category::Parsed);
        }
    }

    /// Returns all labels as one set (Loki's default answer: stream labels, structured
    /// metadata and parsed labels together).
    pub fn all_labels(&self) -> Labels {
        Labels::new(self.labels.iter().map(|(n, v, _)| (n.as_str(), v.as_str())))
    }

    /// Returns the labels of one category.
    pub fn labels_of(&self, category: Category) -> Labels {
        Labels::new(
            self.labels
                .iter()
                .filter(|(_, _, c)| *c == category)
                .map(|(n, v, _)| (n.as_str(), v.as_str())),
        )
    }
}

/// Runs `stages` over `row`; returns false when a stage drops the line.
pub fn run_pipeline(stages: &[Stage], row: &mut Row) -> bool {
    stages.iter().all(|stage| run_stage(stage, row))
}

fn run_stage(stage: &Stage, row: &mut Row) -> bool {
    match stage {
        Stage::LineFilter(filter) => line_matches(filter, &row.line),
        Stage::Json(extractions) => {
            parse_json(extractions, row);
            true
        }
        Stage::Logfmt {
            strict,
            extractions,
        } => {
            parse_logfmt(*strict, extractions, row);
            true
        }
        Stage::LabelFilter(filter) => label_filter_keeps(filter, row),
        Stage::LineFormat(template) => {
            row.line = render(template, row);
            true
        }
        Stage::LabelFormat(formats) => {
            apply_label_formats(formats, row);
            true
        }
        Stage::Drop(selections) => {
            row.labels
                .retain(|(name, value, _)| !selections.iter().any(|s| selects(s, name, value)));
            true
        }
        Stage::Keep(selections) => {
            // `keep` never drops the error labels (only `drop` does), as in Loki.
            row.labels.retain(|(name, value, _)| {
                name == ERROR_LABEL
                    || name == ERROR_DETAILS_LABEL
                    || selections.iter().any(|s| selects(s, name, value))
            });
            true
        }
    }
}

/// Says whether a line passes a line filter.
pub fn line_matches(filter: &LineFilter, line: &str) -> bool {
    match filter.op {
        LineFilterOp::Contains => filter.values.iter().any(|v| line.contains(v.as_str())),
        LineFilterOp::NotContains => !filter.values.iter().any(|v| line.contains(v.as_str())),
        LineFilterOp::Regex => filter.regexes.iter().any(|r| r.is_match(line)),
        LineFilterOp::NotRegex => !filter.regexes.iter().any(|r| r.is_match(line)),
    }
}

fn selects(selection: &LabelSelection, name: &str, value: &str) -> bool {
    match selection {
        LabelSelection::Name(selected) => selected == name,
        LabelSelection::Matcher(matcher) => matcher.name == name && matcher.matches(value),
    }
}

/// Reads the value `| unwrap` names and removes its label (a label that is missing or does not
/// convert sets `__error__=SampleExtractionErr` and counts 0), then applies the label
/// filters after the unwrap. Returns `None` when one of them drops the entry.
pub fn unwrap_value(unwrap: &Unwrap, row: &mut Row) -> Option<f64> {
    let text = row.get(&unwrap.label).map(str::to_string);
    row.remove(&unwrap.label);
    let value = text.as_deref().and_then(|text| match unwrap.conversion {
        NumberKind::Number => text.trim().parse::<f64>().ok(),
        NumberKind::Duration => parse_duration_nanos(text).map(|nanos| nanos / 1e9),
        NumberKind::Bytes => parse_bytes(text),
    });
    let value = value.unwrap_or_else(|| {
        let details = match &text {
            Some(text) => format!("cannot convert {text:?} of label {}", unwrap.label),
            None => format!("label {} is missing", unwrap.label),
        };
        row.set_error(UNWRAP_ERROR, details);
        0.0
    });
    unwrap
        .post_filters
        .iter()
        .all(|filter| label_filter_keeps(filter, row))
        .then_some(value)
}

fn label_filter_keeps(filter: &LabelFilter, row: &mut Row) -> bool {
    match filter {
        LabelFilter::And(left, right) => {
            label_filter_keeps(left, row) && label_filter_keeps(right, row)
        }
        LabelFilter::Or(left, right) => {
            label_filter_keeps(left, row) || label_filter_keeps(right, row)
        }
        LabelFilter::Matcher(matcher) => matcher.matches(row.get(&matcher.name).unwrap_or("")),
        LabelFilter::Number {
            name,
            op,
            value,
            kind,
        } => {
            // Once a stage failed, only string matchers (such as `__error__=""`) filter.
            if row.has_error() {
                return true;
            }
            let Some(text) = row.get(name) else {
                return *op == super::ast::CmpOp::Ne;
            };
            let parsed = match kind {
                NumberKind::Number => text.trim().parse::<f64>().ok(),
                NumberKind::Duration => parse_duration_nanos(text).map(|nanos| nanos / 1e9),
                NumberKind::Bytes => parse_bytes(text),
            };
            match parsed {
                Some(number) => op.compare(number, *value),
                None => {
                    let details =
                        format!("cannot read {name}={text:?} as a {kind:?}").to_lowercase();
                    row.set_error(LABEL_FILTER_ERROR, details);
                    true
                }
            }
        }
    }
}

fn apply_label_formats(formats: &[LabelFormat], row: &mut Row) {
    for format in formats {
        match format {
            LabelFormat::Rename { to, from } => {
                if let Some(value) = row.get(from).map(str::to_string) {
                    row.remove(from);
                    row.set(to, value, Category::Parsed);
                }
            }
            LabelFormat::Template { to, template } => {
                let value = render(template, row);
                row.set(to, value, Category::Parsed);
            }
        }
    }
}

/// Renders a template with the row's labels and line.
fn render(template: &Template, row: &Row) -> String {
    let mut out = String::new();
    for part in &template.parts {
        match part {
            TemplatePart::Text(text) => out.push_str(text),
            TemplatePart::Label(name) => out.push_str(row.get(name).unwrap_or("")),
            TemplatePart::Line => out.push_str(&row.line),
        }
    }
    out
}

fn parse_json(extractions: &[Extraction], row: &mut Row) {
    let value: serde_json::Value = match serde_json::from_str(&row.line) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        Ok(_) => {
            row.set_error(JSON_ERROR, "the line is not a JSON object".to_string());
            return;
        }
        Err(error) => {
            row.set_error(JSON_ERROR, error.to_string());
            return;
        }
    };
    if extractions.is_empty() {
        let mut extracted = Vec::new();
        flatten_json("", &value, &mut extracted);
        // Names that sanitise alike (`a.b`, `a_b`) keep the first value, as in Loki.
        let mut seen = HashSet::new();
        for (name, text) in extracted {
            if seen.insert(name.clone()) {
                row.set_extracted(name, text);
            }
        }
        return;
    }
    for extraction in extractions {
        let found = extraction
            .path
            .iter()
            .try_fold(&value, |node, part| match part {
                PathPart::Key(key) => node.get(key.as_str()),
                PathPart::Index(index) => node.get(*index),
            });
        if let Some(text) = found.and_then(json_text) {
            row.set_extracted(extraction.label.clone(), text);
        }
    }
}

/// Flattens nested objects into `parent_child` names, as Loki's `| json` does; arrays and
/// nulls are skipped.
fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    let serde_json::Value::Object(fields) = value else {
        return;
    };
    for (key, field) in fields {
        let name = if prefix.is_empty() {
            sanitize_label_name(key)
        } else {
            format!("{prefix}_{}", sanitize_label_name(key))
        };
        match field {
            serde_json::Value::Object(_) => flatten_json(&name, field, out),
            serde_json::Value::Array(_) | serde_json::Value::Null => {}
            scalar => {
                if let Some(text) = json_text(scalar) {
                    out.push((name, text));
                }
            }
        }
    }
}

/// Renders a JSON value as a label value: strings unquoted, other values as JSON.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn parse_logfmt(strict: bool, extractions: &[Extraction], row: &mut Row) {
    let pairs = match split_logfmt(&row.line, strict) {
        Ok(pairs) => pairs,
        Err(reason) => {
            row.set_error(LOGFMT_ERROR, reason);
            return;
        }
    };
    if extractions.is_empty() {
        // A key that appears twice keeps its first value, as in Loki.
        let mut seen = HashSet::new();
        for (key, value) in pairs {
            let name = sanitize_label_name(&key);
            if seen.insert(name.clone()) {
                row.set_extracted(name, value);
            }
        }
        return;
    }
    for extraction in extractions {
        let Some(PathPart::Key(key)) = extraction.path.first() else {
            continue;
        };
        if let Some((_, value)) = pairs.iter().find(|(k, _)| k == key) {
            row.set_extracted(extraction.label.clone(), value.clone());
        }
    }
}

/// Splits a logfmt line into key/value pairs; a bare key has an empty value. A malformed
/// pair (no key, a quote in the key, `=` in an unquoted value, an unclosed quote) is skipped,
/// or with `strict` fails the line.
///
/// # Errors
/// In strict mode, a message naming the malformed pair's position.
fn split_logfmt(line: &str, strict: bool) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(pairs);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        let invalid = |what: &str| format!("logfmt syntax error at pos {}: {what}", start + 1);
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            if key.contains('"') && strict {
                return Err(invalid("unexpected '\"'"));
            }
            if !key.contains('"') {
                pairs.push((key, String::new()));
            }
            continue;
        }
        let (value, malformed) = if chars.next_if(|(_, c)| *c == '"').is_some() {
            read_quoted(&mut chars)
        } else {
            let mut value = String::new();
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                value.push(c);
            }
            let malformed = value
                .contains(['=', '"'])
                .then_some("unexpected '=' or '\"'");
            (value, malformed)
        };
        let problem = if key.is_empty() {
            Some("unexpected '='")
        } else if key.contains('"') {
            Some("unexpected '\"'")
        } else {
            malformed
        };
        match problem {
            Some(what) if strict => return Err(invalid(what)),
            Some(_) => {}
            None => pairs.push((key, value)),
        }
    }
}

/// Reads a quoted logfmt value after its opening quote; says when the quote is not closed.
fn read_quoted(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> (String, Option<&'static str>) {
    let mut value = String::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => return (value, None),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => value.push(other),
                None => break,
            },
            c => value.push(c),
        }
    }
    (value, Some("unterminated quote"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::ast::Expr;
    use crate::logql::parser::parse;

    fn run(query: &str, labels: Labels, line: &str) -> Option<Row> {
        let Ok(Expr::Log(log)) = parse(query) else {
            panic!("{query} is not a log query");
        };
        let mut row = Row::new(LogEntry {
            timestamp_unix_nano: 1,
            labels,
            line: line.to_string(),
            metadata: Labels::new([("trace_id", "abc")]),
        });
        run_pipeline(&log.pipeline, &mut row).then_some(row)
    }

    fn app() -> Labels {
        Labels::new([("app", "api"), ("level", "info")])
    }

    #[test]
    fn line_filters() {
        assert!(run(r#"{app="api"} |= "err" != "timeout""#, app(), "an error").is_some());
        assert!(run(
            r#"{app="api"} |= "err" != "timeout""#,
            app(),
            "error timeout"
        )
        .is_none());
        assert!(run(r#"{app="api"} |~ "(?i)ERR" !~ "^x""#, app(), "an error").is_some());
        assert!(run(r#"{app="api"} |= "a" or "b""#, app(), "only b").is_some());
        assert!(run(r#"{app="api"} != "a" or "b""#, app(), "only b").is_none());
        assert!(run(r#"{app="api"} |= """#, app(), "").is_some());
    }

    #[test]
    fn json_flattens_sanitises_and_marks_clashes() {
        let row = run(
            r#"{app="api"} | json"#,
            app(),
            r#"{"level":"error","status":502,"req":{"user-agent":"curl","ids":[1]},"ok":true,"none":null}"#,
        )
        .unwrap();
        assert_eq!(row.get("level_extracted"), Some("error"));
        assert_eq!(row.get("level"), Some("info"));
        assert_eq!(row.get("status"), Some("502"));
        assert_eq!(row.get("req_user_agent"), Some("curl"));
        assert_eq!(row.get("req_ids"), None);
        assert_eq!(row.get("ok"), Some("true"));
        assert_eq!(
            row.labels_of(Category::Metadata).get("trace_id"),
            Some("abc")
        );
        assert_eq!(row.labels_of(Category::Parsed).get("status"), Some("502"));

        let failed = run(r#"{app="api"} | json"#, app(), "not json").unwrap();
        assert_eq!(failed.get(ERROR_LABEL), Some(JSON_ERROR));
        assert!(failed.get(ERROR_DETAILS_LABEL).is_some());
        assert!(run(r#"{app="api"} | json | __error__="""#, app(), "not json").is_none());
        let dropped = run(
            r#"{app="api"} | json | drop __error__, __error_details__"#,
            app(),
            "x",
        )
        .unwrap();
        assert_eq!(dropped.get(ERROR_LABEL), None);

        let paths = run(
            r#"{app="api"} | json first="servers[0]", ua="request.headers[\"User-Agent\"]", obj="request""#,
            app(),
            r#"{"servers":["a","b"],"request":{"headers":{"User-Agent":"ua/1"}}}"#,
        )
        .unwrap();
        assert_eq!(paths.get("first"), Some("a"));
        assert_eq!(paths.get("ua"), Some("ua/1"));
        assert_eq!(
            paths.get("obj"),
            Some(r#"{"headers":{"User-Agent":"ua/1"}}"#)
        );
    }

    #[test]
    fn logfmt_and_label_filters() {
        let line =
            r#"level=error status=503 duration=1.5s size=2KB msg="upstream \"x\" failed" flag"#;
        let row = run(
            r#"{app="api"} | logfmt | status >= 500 and duration > 1s and size > 1KB"#,
            app(),
            line,
        )
        .unwrap();
        assert_eq!(row.get("msg"), Some(r#"upstream "x" failed"#));
        assert_eq!(row.get("level_extracted"), Some("error"));
        assert!(run(r#"{app="api"} | logfmt | status < 500"#, app(), line).is_none());
        assert!(run(
            r#"{app="api"} | logfmt | status == 503 or missing > 1"#,
            app(),
            line
        )
        .is_some());
        assert!(run(r#"{app="api"} | logfmt | missing > 1"#, app(), line).is_none());
        assert!(run(r#"{app="api"} | logfmt | missing != 1"#, app(), line).is_some());
        let not_a_number = run(r#"{app="api"} | logfmt | msg > 1"#, app(), line).unwrap();
        assert_eq!(not_a_number.get(ERROR_LABEL), Some(LABEL_FILTER_ERROR));
        // Malformed pairs are skipped, or with --strict fail the line.
        let lenient = run(
            r#"{app="api"} | logfmt"#,
            app(),
            r#"=x a=1 b=c=d fo"o=1 e="open"#,
        )
        .unwrap();
        assert_eq!(lenient.get(ERROR_LABEL), None);
        assert_eq!(lenient.get("a"), Some("1"));
        assert_eq!(lenient.get("b"), None);
        let strict = run(r#"{app="api"} | logfmt --strict"#, app(), "a=1 =x").unwrap();
        assert_eq!(strict.get(ERROR_LABEL), Some(LOGFMT_ERROR));
        let strict_quote = run(r#"{app="api"} | logfmt --strict"#, app(), r#"a="open"#).unwrap();
        assert_eq!(strict_quote.get(ERROR_LABEL), Some(LOGFMT_ERROR));
        let twice = run(r#"{app="api"} | logfmt"#, app(), "k=first k=second").unwrap();
        assert_eq!(twice.get("k"), Some("first"));
        let picked = run(r#"{app="api"} | logfmt code="status""#, app(), line).unwrap();
        assert_eq!(picked.get("code"), Some("503"));
        assert_eq!(picked.get("msg"), None);
        assert!(run(r#"{app="api"} | level="info" | trace_id="abc""#, app(), "x").is_some());
    }

    #[test]
    fn formats_drop_and_keep() {
        let row = run(
            r#"{app="api"} | logfmt | line_format "{{.status}}: {{ .msg }}" | label_format code=status, line="{{__line__}}" | keep app, code, line"#,
            app(),
            "status=200 msg=ok",
        )
        .unwrap();
        assert_eq!(row.line, "200: ok");
        assert_eq!(
            row.all_labels().to_string(),
            r#"{app="api", code="200", line="200: ok"}"#
        );
        let kept = run(r#"{app="api"} | json | keep app"#, app(), "not json").unwrap();
        assert_eq!(kept.get(ERROR_LABEL), Some(JSON_ERROR));
        assert_eq!(kept.get("level"), None);
        let dropped = run(r#"{app="api"} | drop level="info", app"#, app(), "x").unwrap();
        assert_eq!(dropped.all_labels().to_string(), r#"{trace_id="abc"}"#);
    }
}

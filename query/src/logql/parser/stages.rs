//! The pipeline half of the parser: line filters, `| json`, `| logfmt`, label filter
//! expressions, `line_format`/`label_format` templates, `drop` and `keep`.

use super::{error_at, Parser, Token};
use crate::logql::ast::{
    CmpOp, Extraction, LabelFilter, LabelFormat, LabelSelection, LineFilter, LineFilterOp,
    NumberKind, PathPart, Stage, Template, TemplatePart,
};
use crate::logql::source::{LabelMatcher, MatchOp};
use crate::logql::Error;

impl Parser<'_> {
    /// Parses the next pipeline stage, or returns `None` when the pipeline ends.
    pub(super) fn stage(&mut self) -> Result<Option<Stage>, Error> {
        let op = match self.peek() {
            Token::PipeEq => LineFilterOp::Contains,
            Token::Ne => LineFilterOp::NotContains,
            Token::PipeRe => LineFilterOp::Regex,
            Token::NotRe => LineFilterOp::NotRegex,
            Token::PipePattern | Token::NotPattern => {
                return Err(Error::unsupported("pattern line filters (|> and !>)"))
            }
            // `| unwrap` ends the pipeline; the range aggregation reads it.
            Token::Pipe if self.peek_at(1) == &Token::Ident("unwrap".into()) => return Ok(None),
            Token::Pipe => {
                self.position += 1;
                return self.pipe_stage().map(Some);
            }
            _ => return Ok(None),
        };
        self.position += 1;
        self.line_filter(op)
            .map(|filter| Some(Stage::LineFilter(filter)))
    }

    fn line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter, Error> {
        let mut values = vec![self.line_filter_value()?];
        while self.peek_at(0) == &Token::Ident("or".into())
            && matches!(self.peek_at(1), Token::Str(_) | Token::Ident(_))
        {
            self.position += 1;
            values.push(self.line_filter_value()?);
        }
        let regexes = match op {
            LineFilterOp::Regex | LineFilterOp::NotRegex => values
                .iter()
                .map(|pattern| {
                    regex::Regex::new(pattern).map_err(|error| Error::InvalidRegex {
                        pattern: pattern.clone(),
                        reason: error.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?,
            LineFilterOp::Contains | LineFilterOp::NotContains => Vec::new(),
        };
        Ok(LineFilter {
            op,
            values,
            regexes,
        })
    }

    fn line_filter_value(&mut self) -> Result<String, Error> {
        if matches!(self.peek(), Token::Ident(name) if name == "ip") {
            return Err(Error::unsupported("ip() line filters"));
        }
        self.string("STRING")
    }

    fn pipe_stage(&mut self) -> Result<Stage, Error> {
        let name = match self.peek() {
            Token::Ident(name) => name.clone(),
            Token::LParen => return Ok(Stage::LabelFilter(self.label_filter()?)),
            _ => return Err(self.unexpected("a parser, a label filter or a format stage")),
        };
        let is_comparison = matches!(
            self.peek_at(1),
            Token::Eq
                | Token::EqEq
                | Token::Ne
                | Token::Re
                | Token::NotRe
                | Token::Gt
                | Token::Ge
                | Token::Lt
                | Token::Le
        );
        if is_comparison {
            return Ok(Stage::LabelFilter(self.label_filter()?));
        }
        self.position += 1;
        match name.as_str() {
            "json" => Ok(Stage::Json(self.extractions(true)?)),
            "logfmt" => {
                let mut strict = false;
                while let Token::Flag(flag) = self.peek().clone() {
                    match flag.as_str() {
                        "strict" => strict = true,
                        // Empty values are absent labels here, so keeping them changes nothing.
                        "keep-empty" | "keep_empty" => {}
                        _ => {
                            return Err(error_at(
                                self.text,
                                self.offset(),
                                format!("syntax error: unknown logfmt flag --{flag}"),
                            ))
                        }
                    }
                    self.position += 1;
                }
                Ok(Stage::Logfmt {
                    strict,
                    extractions: self.extractions(false)?,
                })
            }
            "line_format" => {
                let template = self.string("a template STRING")?;
                Ok(Stage::LineFormat(parse_template(&template)?))
            }
            "label_format" => Ok(Stage::LabelFormat(self.label_formats()?)),
            "drop" => Ok(Stage::Drop(self.label_selections()?)),
            "keep" => Ok(Stage::Keep(self.label_selections()?)),
            "regexp" | "pattern" | "unpack" | "decolorize" => {
                Err(Error::unsupported(format!("| {name}")))
            }
            _ => Err(error_at(
                self.text,
                self.tokens
                    .get(self.position - 1)
                    .map_or(0, |spanned| spanned.offset),
                format!("syntax error: unexpected IDENTIFIER {name}"),
            )),
        }
    }

    /// Parses `name="path", …` (or a bare `name`) after `json` (paths) or `logfmt` (keys).
    fn extractions(&mut self, json_paths: bool) -> Result<Vec<Extraction>, Error> {
        let mut extractions = Vec::new();
        while matches!(self.peek(), Token::Ident(_)) {
            let label = self.ident("a label name")?;
            // `| json servers` is `| json servers="servers"`.
            let expression = if self.eat(&Token::Eq) {
                self.string("STRING")?
            } else {
                label.clone()
            };
            let path = if json_paths {
                parse_json_path(&expression).ok_or_else(|| {
                    error_at(
                        self.text,
                        self.offset(),
                        format!("invalid json path {expression:?}"),
                    )
                })?
            } else {
                vec![PathPart::Key(expression)]
            };
            extractions.push(Extraction { label, path });
            if !self.eat(&Token::Comma) {
                break;
            }
        }
        Ok(extractions)
    }

    fn label_formats(&mut self) -> Result<Vec<LabelFormat>, Error> {
        let mut formats = Vec::new();
        loop {
            let to = self.ident("a label name")?;
            self.expect(&Token::Eq, "=")?;
            let format = match self.next() {
                Token::Ident(from) => LabelFormat::Rename { to, from },
                Token::Str(text) => LabelFormat::Template {
                    to,
                    template: parse_template(&text)?,
                },
                _ => {
                    self.position -= 1;
                    return Err(self.unexpected("a label name or a template STRING"));
                }
            };
            formats.push(format);
            if !self.eat(&Token::Comma) {
                return Ok(formats);
            }
        }
    }

    fn label_selections(&mut self) -> Result<Vec<LabelSelection>, Error> {
        let mut selections = Vec::new();
        loop {
            let name = self.ident("a label name")?;
            let op = match self.peek() {
                Token::Eq => Some(MatchOp::Equal),
                Token::Ne => Some(MatchOp::NotEqual),
                Token::Re => Some(MatchOp::Regex),
                Token::NotRe => Some(MatchOp::NotRegex),
                _ => None,
            };
            selections.push(match op {
                Some(op) => {
                    self.position += 1;
                    let value = self.string("STRING")?;
                    LabelSelection::Matcher(LabelMatcher::new(name, op, value)?)
                }
                None => LabelSelection::Name(name),
            });
            if !self.eat(&Token::Comma) {
                return Ok(selections);
            }
        }
    }

    /// Parses a label filter expression. `and` (also written `,` or a space) and `or` bind
    /// equally, left to right, as Loki documents: `a or b and c` is `(a or b) and c`.
    pub(super) fn label_filter(&mut self) -> Result<LabelFilter, Error> {
        let mut left = self.label_filter_primary()?;
        loop {
            let or = self.eat_ident("or");
            let and = !or && (self.eat_ident("and") || self.eat(&Token::Comma));
            let implicit =
                !or && !and && matches!(self.peek(), Token::Ident(name) if name != "offset");
            if !or && !and && !implicit {
                return Ok(left);
            }
            let right = self.label_filter_primary()?;
            left = if or {
                LabelFilter::Or(Box::new(left), Box::new(right))
            } else {
                LabelFilter::And(Box::new(left), Box::new(right))
            };
        }
    }

    fn label_filter_primary(&mut self) -> Result<LabelFilter, Error> {
        if self.eat(&Token::LParen) {
            let inner = self.label_filter()?;
            self.expect(&Token::RParen, ")")?;
            return Ok(inner);
        }
        let name = self.ident("a label name")?;
        let op = self.next();
        let negative = self.eat(&Token::Arithmetic('-'));
        let sign = if negative { -1.0 } else { 1.0 };
        let (value, kind) = match self.peek().clone() {
            Token::Str(text) if !negative => {
                self.position += 1;
                let op =
                    match op {
                        Token::Eq | Token::EqEq => MatchOp::Equal,
                        Token::Ne => MatchOp::NotEqual,
                        Token::Re => MatchOp::Regex,
                        Token::NotRe => MatchOp::NotRegex,
                        _ => return Err(error_at(
                            self.text,
                            self.offset(),
                            "syntax error: a string can only be compared with =, ==, !=, =~ or !~",
                        )),
                    };
                return Ok(LabelFilter::Matcher(LabelMatcher::new(name, op, text)?));
            }
            Token::Number(value) => (value, NumberKind::Number),
            Token::Duration(nanos) => (nanos / 1e9, NumberKind::Duration),
            Token::Bytes(bytes) => (bytes, NumberKind::Bytes),
            Token::Ident(function) if function == "ip" => {
                return Err(Error::unsupported("ip() label filters"))
            }
            _ => return Err(self.unexpected("STRING, NUMBER, DURATION or BYTES")),
        };
        self.position += 1;
        let op = match op {
            Token::Eq | Token::EqEq => CmpOp::Eq,
            Token::Ne => CmpOp::Ne,
            Token::Gt => CmpOp::Gt,
            Token::Ge => CmpOp::Ge,
            Token::Lt => CmpOp::Lt,
            Token::Le => CmpOp::Le,
            _ => {
                return Err(error_at(
                    self.text,
                    self.offset(),
                    "syntax error: =~ and !~ compare with a STRING",
                ))
            }
        };
        Ok(LabelFilter::Number {
            name,
            op,
            value: sign * value,
            kind,
        })
    }
}

/// Parses a `| json` path: `a.b`, `a[0]`, `a["key with.dots"]`, `[0].a`.
fn parse_json_path(text: &str) -> Option<Vec<PathPart>> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    // Whether the next part must be a key: at the start and after a dot.
    let mut expect_key = true;
    let mut after_dot = false;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            if after_dot {
                return None;
            }
            let end = after.find(']')?;
            let inside = after.get(..end)?.trim();
            if let Some(quoted) = inside
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            {
                parts.push(PathPart::Key(quoted.to_string()));
            } else {
                parts.push(PathPart::Index(inside.parse().ok()?));
            }
            rest = after.get(end + 1..)?;
            expect_key = false;
        } else if let Some(after) = rest.strip_prefix('.') {
            if expect_key {
                return None;
            }
            rest = after;
            expect_key = true;
            after_dot = true;
            continue;
        } else if expect_key {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = rest.get(..end)?;
            if key.is_empty() {
                return None;
            }
            parts.push(PathPart::Key(key.to_string()));
            rest = rest.get(end..)?;
            expect_key = false;
        } else {
            return None;
        }
        after_dot = false;
    }
    (!parts.is_empty() && !after_dot).then_some(parts)
}

/// Parses a template of the supported subset: literal text, `{{ .label }}` and
/// `{{ __line__ }}`.
///
/// # Errors
/// [`Error::Unsupported`] for any other action (functions, pipes, conditionals, ranges).
pub fn parse_template(source: &str) -> Result<Template, Error> {
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(TemplatePart::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| Error::unsupported("unterminated template action"))?;
        let action = after[..end].trim_matches('-').trim();
        if action == "__line__" {
            parts.push(TemplatePart::Line);
        } else if let Some(label) = action.strip_prefix('.').filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) {
            parts.push(TemplatePart::Label(label.to_string()));
        } else {
            return Err(Error::unsupported(format!(
                "template action {{{{ {action} }}}} (only {{{{ .label }}}} and {{{{ __line__ }}}})"
            )));
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_string()));
    }
    Ok(Template {
        source: source.to_string(),
        parts,
    })
}

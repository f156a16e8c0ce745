//! The log search language: [`LogFilter::parse`] turns a query string into a filter that
//! evaluates the same way on the tantivy index ([`LogFilter::to_query`]) and on records in
//! memory ([`LogFilter::matches`], for the head and live tail).
//!
//! Syntax (Lucene-like, what people type into a log search box):
//! - `word`: a word of the body (case-insensitive); text that the analyzer splits into several
//!   words (`user-42`, `a.b`) is a phrase of them.
//! - `"a phrase"`: consecutive words of the body.
//! - `key:value`, `key:"a value"`: an exact (case-insensitive) match on a field or attribute.
//!   Keys `service` (or `service.name`, `service_name`), `severity` (or `level`), `trace_id`,
//!   `span_id`, `scope` and `body` name fields; `resource.KEY` a resource attribute;
//!   `attributes.KEY` a log attribute; any other key a log attribute or a resource attribute.
//!   Nested map values are reached by dotted paths (`http.request.method`).
//! - `a b` and `a AND b` (both), `a OR b` (either), `NOT a` and `-a` (not), parentheses.
//!   `NOT` binds tightest, then `AND`, then `OR`. Operators are upper case; `and` is a word.
//!
//! Text containing `:`, `(`, `)` or `"` that is not meant as syntax must be quoted.

use sightline_model::{KeyValue, LogRow, SpanId, TraceId};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use super::resources::ResourceTable;
use super::schema::{
    body_text, body_tokens, exact_token, flatten_attributes, LogFields, ResourceField,
};

/// What a filter becomes a tantivy query against: a day index's fields and its resource table
/// (where a format 2 index finds resource attributes).
#[derive(Clone, Copy)]
pub struct QueryTarget<'a> {
    /// The index's fields.
    pub fields: &'a LogFields,
    /// The index's resources.
    pub resources: &'a ResourceTable,
}

/// Why a query string is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log query at character {position}: {reason}")]
pub struct FilterParseError {
    /// Character offset where the problem was found.
    pub position: usize,
    /// What is wrong.
    pub reason: String,
}

/// Which attributes a `key:value` term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeScope {
    /// Log record attributes.
    Log,
    /// Resource attributes.
    Resource,
    /// Either.
    Any,
}

/// A parsed log query.
#[derive(Debug, Clone, PartialEq)]
pub enum LogFilter {
    /// Matches every record (the empty query).
    All,
    /// The body contains these words, consecutively (one word: anywhere).
    Body(Vec<String>),
    /// `service.name` equals (case-insensitively) this value.
    Service(String),
    /// The severity text equals (case-insensitively) this value.
    Severity(String),
    /// The scope name equals (case-insensitively) this value.
    Scope(String),
    /// The record's trace id.
    TraceId(TraceId),
    /// The record's span id.
    SpanId(SpanId),
    /// An attribute at this dotted path equals (case-insensitively) this value.
    Attribute {
        /// Which attributes.
        scope: AttributeScope,
        /// The dotted path.
        path: String,
        /// The lowercased value.
        value: String,
    },
    /// Every filter matches.
    And(Vec<LogFilter>),
    /// At least one filter matches.
    Or(Vec<LogFilter>),
    /// The filter does not match.
    Not(Box<LogFilter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    /// A term: an optional key and its value; `quoted` when the value was in quotes.
    Term {
        key: Option<String>,
        value: String,
        quoted: bool,
    },
}

impl LogFilter {
    /// Parses a query string; blank text is [`LogFilter::All`].
    ///
    /// # Errors
    /// [`FilterParseError`] for unbalanced parentheses or quotes, a dangling operator, or an
    /// invalid trace or span id.
    pub fn parse(text: &str) -> Result<Self, FilterParseError> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Ok(LogFilter::All);
        }
        let mut parser = Parser {
            tokens,
            position: 0,
        };
        let filter = parser.or()?;
        if let Some((position, token)) = parser.peek_at() {
            return Err(FilterParseError {
                position,
                reason: format!("unexpected {token:?}"),
            });
        }
        Ok(filter)
    }

    /// Says whether a record matches.
    pub fn matches(&self, row: &LogRow) -> bool {
        match self {
            LogFilter::All => true,
            LogFilter::Body(words) => contains_sequence(&body_tokens(&body_text(row)), words),
            LogFilter::Service(value) => row.service_name().to_lowercase() == *value,
            LogFilter::Severity(value) => row.record.severity_text.to_lowercase() == *value,
            LogFilter::Scope(value) => row.scope.name.to_lowercase() == *value,
            LogFilter::TraceId(id) => row.record.trace_id.as_ref() == Some(id),
            LogFilter::SpanId(id) => row.record.span_id.as_ref() == Some(id),
            LogFilter::Attribute { scope, path, value } => {
                let has = |attributes: &[KeyValue]| has_attribute(attributes, path, value);
                match scope {
                    AttributeScope::Log => has(&row.record.attributes),
                    AttributeScope::Resource => has(&row.resource.attributes),
                    AttributeScope::Any => {
                        has(&row.record.attributes) || has(&row.resource.attributes)
                    }
                }
            }
            LogFilter::And(filters) => filters.iter().all(|filter| filter.matches(row)),
            LogFilter::Or(filters) => filters.iter().any(|filter| filter.matches(row)),
            LogFilter::Not(filter) => !filter.matches(row),
        }
    }

    /// Builds the equivalent tantivy query over a day index.
    pub fn to_query(&self, target: QueryTarget<'_>) -> Box<dyn Query> {
        let fields = target.fields;
        match self {
            LogFilter::All => Box::new(AllQuery),
            LogFilter::Body(words) => words_query(fields.body, words),
            LogFilter::Service(value) => exact_query(fields.service, value),
            LogFilter::Severity(value) => exact_query(fields.severity_text, value),
            LogFilter::Scope(value) => exact_query(fields.scope, value),
            LogFilter::TraceId(id) => {
                term_query(Term::from_field_bytes(fields.trace_id, id.as_bytes()))
            }
            LogFilter::SpanId(id) => {
                term_query(Term::from_field_bytes(fields.span_id, id.as_bytes()))
            }
            LogFilter::Attribute { scope, path, value } => match scope {
                AttributeScope::Log => json_query(fields.attributes, path, value),
                AttributeScope::Resource => resource_query(target, path, value),
                AttributeScope::Any => Box::new(BooleanQuery::new(vec![
                    (Occur::Should, json_query(fields.attributes, path, value)),
                    (Occur::Should, resource_query(target, path, value)),
                ])),
            },
            LogFilter::And(filters) => Box::new(BooleanQuery::new(
                filters
                    .iter()
                    .map(|filter| (Occur::Must, filter.to_query(target)))
                    .collect(),
            )),
            LogFilter::Or(filters) => Box::new(BooleanQuery::new(
                filters
                    .iter()
                    .map(|filter| (Occur::Should, filter.to_query(target)))
                    .collect(),
            )),
            LogFilter::Not(filter) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                (Occur::MustNot, filter.to_query(target)),
            ])),
        }
    }

    /// Builds a filter of one term from a key and a value, as `key:value` would.
    ///
    /// # Errors
    /// [`FilterParseError`] for an invalid trace or span id.
    fn field_term(key: &str, value: &str, position: usize) -> Result<Self, FilterParseError> {
        let exact = || value.to_lowercase();
        let invalid = |what: &str, error: sightline_model::IdParseError| FilterParseError {
            position,
            reason: format!("invalid {what} {value:?}: {error}"),
        };
        Ok(match key {
            "body" => body_filter(value),
            "service" | "service.name" | "service_name" => LogFilter::Service(exact()),
            "severity" | "level" | "severity_text" => LogFilter::Severity(exact()),
            "scope" => LogFilter::Scope(exact()),
            "trace_id" | "traceid" => {
                LogFilter::TraceId(value.parse().map_err(|error| invalid("trace id", error))?)
            }
            "span_id" | "spanid" => {
                LogFilter::SpanId(value.parse().map_err(|error| invalid("span id", error))?)
            }
            _ => {
                let (scope, path) = if let Some(path) = key.strip_prefix("resource.") {
                    (AttributeScope::Resource, path)
                } else if let Some(path) = key.strip_prefix("attributes.") {
                    (AttributeScope::Log, path)
                } else {
                    (AttributeScope::Any, key)
                };
                LogFilter::Attribute {
                    scope,
                    path: path.to_string(),
                    value: exact(),
                }
            }
        })
    }
}

fn body_filter(text: &str) -> LogFilter {
    let words = body_tokens(text);
    if words.is_empty() {
        LogFilter::All
    } else {
        LogFilter::Body(words)
    }
}

/// Records whose JSON `field` has `value` at the dotted `path`.
fn json_query(field: Field, path: &str, value: &str) -> Box<dyn Query> {
    let mut term = Term::from_field_json_path(field, path, true);
    term.append_type_and_str(value);
    term_query(term)
}

/// Records whose resource has `value` at the dotted `path`: its JSON field (format 1), or the
/// numbers of the matching resources in the index's table.
fn resource_query(target: QueryTarget<'_>, path: &str, value: &str) -> Box<dyn Query> {
    match target.fields.resource {
        ResourceField::Attributes(field) => json_query(field, path, value),
        ResourceField::Number(field) => {
            let numbers = target
                .resources
                .matching(&mut |resource| has_attribute(&resource.attributes, path, value));
            if numbers.is_empty() {
                return Box::new(EmptyQuery);
            }
            Box::new(TermSetQuery::new(
                numbers
                    .into_iter()
                    .map(|number| Term::from_field_u64(field, number)),
            ))
        }
    }
}

/// Says whether an attribute at the dotted `path` equals the lowercased `value` as the JSON
/// fields index it (its text, exact, lowercased).
fn has_attribute(attributes: &[KeyValue], path: &str, value: &str) -> bool {
    flatten_attributes(attributes, &mut |leaf_path, text| {
        leaf_path == path && exact_token(text).as_deref() == Some(value)
    })
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn exact_query(field: Field, value: &str) -> Box<dyn Query> {
    match exact_token(value) {
        Some(token) => term_query(Term::from_field_text(field, &token)),
        None => Box::new(EmptyQuery),
    }
}

fn words_query(field: Field, words: &[String]) -> Box<dyn Query> {
    match words {
        [] => Box::new(AllQuery),
        [word] => term_query(Term::from_field_text(field, word)),
        _ => Box::new(PhraseQuery::new(
            words
                .iter()
                .map(|word| Term::from_field_text(field, word))
                .collect(),
        )),
    }
}

/// Says whether `words` occur consecutively in `tokens`.
fn contains_sequence(tokens: &[String], words: &[String]) -> bool {
    match words.len() {
        0 => true,
        length => tokens.windows(length).any(|window| window == words),
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, FilterParseError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let (position, c) = chars[index];
        match c {
            c if c.is_whitespace() => index += 1,
            '(' => {
                tokens.push((position, Token::Open));
                index += 1;
            }
            ')' => {
                tokens.push((position, Token::Close));
                index += 1;
            }
            '"' => {
                let (value, next) = quoted(&chars, index)?;
                tokens.push((
                    position,
                    Token::Term {
                        key: None,
                        value,
                        quoted: true,
                    },
                ));
                index = next;
            }
            _ => {
                let start = index;
                while index < chars.len()
                    && !chars[index].1.is_whitespace()
                    && !matches!(chars[index].1, '(' | ')' | '"')
                {
                    index += 1;
                }
                let word: String = chars[start..index].iter().map(|(_, c)| c).collect();
                let token = match word.as_str() {
                    "AND" | "&&" => Token::And,
                    "OR" | "||" => Token::Or,
                    "NOT" => Token::Not,
                    _ => match word.split_once(':') {
                        Some((key, rest)) if !key.is_empty() => {
                            if rest.is_empty() && chars.get(index).is_some_and(|(_, c)| *c == '"') {
                                let (value, next) = quoted(&chars, index)?;
                                index = next;
                                Token::Term {
                                    key: Some(key.to_string()),
                                    value,
                                    quoted: true,
                                }
                            } else if rest.is_empty() {
                                return Err(FilterParseError {
                                    position,
                                    reason: format!("{key}: has no value"),
                                });
                            } else {
                                Token::Term {
                                    key: Some(key.to_string()),
                                    value: rest.to_string(),
                                    quoted: false,
                                }
                            }
                        }
                        _ => Token::Term {
                            key: None,
                            value: word,
                            quoted: false,
                        },
                    },
                };
                tokens.push((position, token));
            }
        }
    }
    Ok(tokens)
}

/// Reads a quoted string starting at `chars[start]` (a `"`); `\"` and `\\` are escapes.
/// Returns the text and the index after the closing quote.
fn quoted(chars: &[(usize, char)], start: usize) -> Result<(String, usize), FilterParseError> {
    let mut value = String::new();
    let mut index = start + 1;
    while index < chars.len() {
        match chars[index].1 {
            '\\' if index + 1 < chars.len() => {
                value.push(chars[index + 1].1);
                index += 2;
            }
            '"' => return Ok((value, index + 1)),
            c => {
                value.push(c);
                index += 1;
            }
        }
    }
    Err(FilterParseError {
        position: chars[start].0,
        reason: "unterminated quote".to_string(),
    })
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|(_, token)| token)
    }

    fn peek_at(&self) -> Option<(usize, &Token)> {
        self.tokens
            .get(self.position)
            .map(|(position, token)| (*position, token))
    }

    fn offset(&self) -> usize {
        self.tokens
            .get(self.position)
            .or(self.tokens.last())
            .map_or(0, |(position, _)| *position)
    }

    fn or(&mut self) -> Result<LogFilter, FilterParseError> {
        let mut alternatives = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.position += 1;
            alternatives.push(self.and()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            LogFilter::Or(alternatives)
        })
    }

    fn and(&mut self) -> Result<LogFilter, FilterParseError> {
        let mut all = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.position += 1;
                    all.push(self.unary()?);
                }
                Some(Token::Open | Token::Not | Token::Term { .. }) => all.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            LogFilter::And(all)
        })
    }

    fn unary(&mut self) -> Result<LogFilter, FilterParseError> {
        let offset = self.offset();
        let Some((_, token)) = self.tokens.get(self.position).cloned() else {
            return Err(FilterParseError {
                position: offset,
                reason: "the query ends where a term was expected".to_string(),
            });
        };
        self.position += 1;
        match token {
            Token::Not => Ok(LogFilter::Not(Box::new(self.unary()?))),
            Token::Open => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(FilterParseError {
                        position: self.offset(),
                        reason: "missing closing parenthesis".to_string(),
                    });
                }
                self.position += 1;
                Ok(inner)
            }
            Token::Term { key, value, quoted } => match key {
                Some(key) if key.len() > 1 && key.starts_with('-') => Ok(LogFilter::Not(Box::new(
                    LogFilter::field_term(&key[1..].to_lowercase(), &value, offset)?,
                ))),
                Some(key) => LogFilter::field_term(&key.to_lowercase(), &value, offset),
                None if !quoted && value.len() > 1 && value.starts_with('-') => {
                    Ok(LogFilter::Not(Box::new(body_filter(&value[1..]))))
                }
                None => Ok(body_filter(&value)),
            },
            other => Err(FilterParseError {
                position: offset,
                reason: format!("unexpected {other:?} where a term was expected"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(words: &[&str]) -> LogFilter {
        LogFilter::Body(words.iter().map(|word| word.to_string()).collect())
    }

    #[test]
    fn precedence_and_implicit_and() {
        let filter = LogFilter::parse("a b OR NOT c AND (d OR e)").unwrap();
        assert_eq!(
            filter,
            LogFilter::Or(vec![
                LogFilter::And(vec![body(&["a"]), body(&["b"])]),
                LogFilter::And(vec![
                    LogFilter::Not(Box::new(body(&["c"]))),
                    LogFilter::Or(vec![body(&["d"]), body(&["e"])]),
                ]),
            ])
        );
    }

    #[test]
    fn phrases_fields_and_negation() {
        assert_eq!(
            LogFilter::parse(r#""Connection Refused""#).unwrap(),
            body(&["connection", "refused"])
        );
        assert_eq!(LogFilter::parse("user-42").unwrap(), body(&["user", "42"]));
        assert_eq!(
            LogFilter::parse("-debug").unwrap(),
            LogFilter::Not(Box::new(body(&["debug"])))
        );
        assert_eq!(
            LogFilter::parse("-Service:Cart").unwrap(),
            LogFilter::Not(Box::new(LogFilter::Service("cart".into())))
        );
        assert_eq!(
            LogFilter::parse(r#"http.method:GET resource.host:"Web 1""#).unwrap(),
            LogFilter::And(vec![
                LogFilter::Attribute {
                    scope: AttributeScope::Any,
                    path: "http.method".into(),
                    value: "get".into()
                },
                LogFilter::Attribute {
                    scope: AttributeScope::Resource,
                    path: "host".into(),
                    value: "web 1".into()
                },
            ])
        );
        assert_eq!(
            LogFilter::parse("service:Checkout").unwrap(),
            LogFilter::Service("checkout".into())
        );
        assert_eq!(LogFilter::parse("  ").unwrap(), LogFilter::All);
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(LogFilter::parse("(a").unwrap_err().position, 1);
        assert!(LogFilter::parse("\"open").is_err());
        assert!(LogFilter::parse("a OR").is_err());
        assert!(LogFilter::parse("trace_id:xyz").is_err());
        assert!(LogFilter::parse("key:").is_err());
        assert!(LogFilter::parse("a )").is_err());
    }
}

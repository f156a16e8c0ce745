//! A recursive-descent parser for the LogQL subset in [`super::ast`]. Loki's grammar is
//! the reference (its documentation, not its code): valid LogQL outside the subset parses
//! far enough to name what it uses and fails with [`Error::Unsupported`]; text that is not
//! LogQL fails with [`Error::Parse`] naming the line and column. Expressions (metric
//! operators, aggregations, selectors) are parsed here, pipeline stages in `stages`.

mod stages;

pub use self::stages::parse_template;

use super::ast::{
    BinaryOp, Expr, Grouping, LogExpr, MetricExpr, NumberKind, RangeOp, Unwrap, VectorOp,
};
use super::lexer::{error_at, tokenize, Spanned, Token};
use super::source::{LabelMatcher, MatchOp};
use super::Error;

/// Functions and operators of LogQL the engine does not evaluate.
const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "label_replace",
    "sort",
    "sort_desc",
    "approx_topk",
    "rate_counter",
];

/// Parses a LogQL query.
///
/// # Errors
/// [`Error::Parse`] for text that is not LogQL, [`Error::Unsupported`] for LogQL outside
/// the subset, [`Error::InvalidRegex`] for a bad regular expression.
pub fn parse(text: &str) -> Result<Expr, Error> {
    let mut parser = Parser {
        text,
        tokens: tokenize(text)?,
        position: 0,
    };
    let expr = parser.expr()?;
    parser.expect_end()?;
    Ok(expr)
}

/// Parses a bare stream selector (`{a="b"}`), as the `match[]` and `query` parameters of
/// Loki's metadata endpoints carry; a pipeline after it is ignored, as Loki does.
///
/// # Errors
/// As [`parse`]; a metric query is a parse error.
pub fn parse_selector(text: &str) -> Result<Vec<LabelMatcher>, Error> {
    match parse(text)? {
        Expr::Log(log) => Ok(log.matchers),
        Expr::Metric(_) => Err(error_at(
            text,
            0,
            "syntax error: expected a stream selector",
        )),
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Spanned>,
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens
            .get(self.position)
            .map_or(&Token::Eof, |spanned| &spanned.token)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens
            .get(self.position + ahead)
            .map_or(&Token::Eof, |spanned| &spanned.token)
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.position < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == token {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn eat_ident(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Token::Ident(ident) if ident == name) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn offset(&self) -> usize {
        self.tokens
            .get(self.position)
            .map_or(self.text.len(), |spanned| spanned.offset)
    }

    fn unexpected(&self, expecting: &str) -> Error {
        error_at(
            self.text,
            self.offset(),
            format!(
                "syntax error: unexpected {}, expecting {expecting}",
                self.peek().describe()
            ),
        )
    }

    fn expect(&mut self, token: &Token, expecting: &str) -> Result<(), Error> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn expect_end(&mut self) -> Result<(), Error> {
        match self.peek() {
            Token::Eof => Ok(()),
            Token::Ident(name) if matches!(name.as_str(), "and" | "or" | "unless") => Err(
                Error::unsupported(format!("the {name} operator (set operations)")),
            ),
            _ => Err(self.unexpected("end of input")),
        }
    }

    fn string(&mut self, expecting: &str) -> Result<String, Error> {
        match self.peek() {
            Token::Str(text) => {
                let text = text.clone();
                self.position += 1;
                Ok(text)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn ident(&mut self, expecting: &str) -> Result<String, Error> {
        match self.peek() {
            Token::Ident(name) => {
                let name = name.clone();
                self.position += 1;
                Ok(name)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn expr(&mut self) -> Result<Expr, Error> {
        // `(…({selector} …)…)` is a log query in parentheses; any other start is a metric
        // expression, which handles its own parentheses.
        let parens = (0..)
            .take_while(|&ahead| self.peek_at(ahead) == &Token::LParen)
            .count();
        if self.peek_at(parens) != &Token::LBrace {
            return Ok(Expr::Metric(self.metric_expr()?));
        }
        for _ in 0..parens {
            self.position += 1;
        }
        let log = self.log_expr()?;
        if self.peek() == &Token::Pipe {
            return Err(error_at(
                self.text,
                self.offset(),
                "syntax error: unwrap is only allowed in a range aggregation",
            ));
        }
        for _ in 0..parens {
            self.expect(&Token::RParen, ")")?;
        }
        Ok(Expr::Log(log))
    }

    /// Parses a metric expression with binary operators, by precedence climbing.
    fn metric_expr(&mut self) -> Result<MetricExpr, Error> {
        self.binary_expr(1)
    }

    fn binary_expr(&mut self, min_precedence: u8) -> Result<MetricExpr, Error> {
        let mut left = self.metric_primary()?;
        while let Some(op) = self.peek_binary_op() {
            let precedence = op.precedence();
            if precedence < min_precedence {
                break;
            }
            self.position += 1;
            let return_bool = op.is_comparison() && self.eat_ident("bool");
            if let Token::Ident(name) = self.peek() {
                if matches!(
                    name.as_str(),
                    "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    return Err(Error::unsupported(format!("vector matching with {name}")));
                }
            }
            // `^` is right-associative; the others bind left to right.
            let next = if op == BinaryOp::Pow {
                precedence
            } else {
                precedence + 1
            };
            let right = self.binary_expr(next)?;
            left = MetricExpr::Binary {
                op,
                return_bool,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn peek_binary_op(&self) -> Option<BinaryOp> {
        Some(match self.peek() {
            Token::Arithmetic('+') => BinaryOp::Add,
            Token::Arithmetic('-') => BinaryOp::Sub,
            Token::Arithmetic('*') => BinaryOp::Mul,
            Token::Arithmetic('/') => BinaryOp::Div,
            Token::Arithmetic('%') => BinaryOp::Mod,
            Token::Arithmetic('^') => BinaryOp::Pow,
            Token::EqEq => BinaryOp::Eq,
            Token::Ne => BinaryOp::Ne,
            Token::Gt => BinaryOp::Gt,
            Token::Ge => BinaryOp::Ge,
            Token::Lt => BinaryOp::Lt,
            Token::Le => BinaryOp::Le,
            _ => return None,
        })
    }

    fn metric_primary(&mut self) -> Result<MetricExpr, Error> {
        let start = self.offset();
        let name = match self.peek().clone() {
            Token::LParen => {
                self.position += 1;
                let inner = self.metric_expr()?;
                self.expect(&Token::RParen, ")")?;
                return Ok(inner);
            }
            Token::Number(value) => {
                self.position += 1;
                return Ok(MetricExpr::Scalar(value));
            }
            Token::Arithmetic(sign @ ('-' | '+')) => {
                self.position += 1;
                let operand = self.metric_primary()?;
                return Ok(match (sign, operand) {
                    ('-', MetricExpr::Scalar(value)) => MetricExpr::Scalar(-value),
                    ('-', other) => MetricExpr::Binary {
                        op: BinaryOp::Mul,
                        return_bool: false,
                        left: Box::new(MetricExpr::Scalar(-1.0)),
                        right: Box::new(other),
                    },
                    (_, other) => other,
                });
            }
            Token::Ident(name) => name,
            _ => return Err(self.unexpected("a metric expression")),
        };
        if let Some(op) = range_op(&name) {
            self.position += 1;
            return self.range_aggregation(op);
        }
        if let Some(op) = vector_op(&name) {
            self.position += 1;
            return self.vector_aggregation(op);
        }
        if name == "vector" {
            self.position += 1;
            self.expect(&Token::LParen, "(")?;
            let value = match self.next() {
                Token::Number(value) => value,
                _ => {
                    self.position -= 1;
                    return Err(self.unexpected("NUMBER"));
                }
            };
            self.expect(&Token::RParen, ")")?;
            return Ok(MetricExpr::VectorLiteral(value));
        }
        if UNSUPPORTED_FUNCTIONS.contains(&name.as_str()) {
            return Err(Error::unsupported(name));
        }
        Err(error_at(
            self.text,
            start,
            format!("syntax error: unexpected IDENTIFIER {name}"),
        ))
    }

    fn range_aggregation(&mut self, op: RangeOp) -> Result<MetricExpr, Error> {
        let start = self.offset();
        self.expect(&Token::LParen, "(")?;
        let parameter = if op == RangeOp::QuantileOverTime {
            let phi = match self.next() {
                Token::Number(phi) => phi,
                _ => {
                    self.position -= 1;
                    return Err(self.unexpected("NUMBER"));
                }
            };
            self.expect(&Token::Comma, ",")?;
            Some(phi)
        } else {
            None
        };
        let (log, unwrap) = if self.peek() == &Token::LParen {
            self.position += 1;
            let log = self.log_expr()?;
            let unwrap = self.unwrap()?;
            self.expect(&Token::RParen, ")")?;
            (log, unwrap)
        } else {
            (self.log_expr()?, self.unwrap()?)
        };
        self.expect(&Token::LBracket, "[")?;
        let range_nanos = self.duration("a range duration")?;
        if range_nanos == 0 {
            return Err(error_at(self.text, self.offset(), "range must be positive"));
        }
        self.expect(&Token::RBracket, "]")?;
        let offset_nanos = if self.eat_ident("offset") {
            self.duration("an offset duration")?
        } else {
            0
        };
        self.expect(&Token::RParen, ")")?;
        let grouping = self.grouping()?;
        let invalid = |message: String| error_at(self.text, start, message);
        if op.needs_unwrap() && unwrap.is_none() {
            return Err(invalid(format!(
                "invalid aggregation {} without unwrap",
                op.name()
            )));
        }
        if op.refuses_unwrap() && unwrap.is_some() {
            return Err(invalid(format!(
                "invalid aggregation {} with unwrap",
                op.name()
            )));
        }
        if grouping.is_some() && unwrap.is_none() {
            return Err(invalid(format!(
                "grouping not allowed for {} aggregation",
                op.name()
            )));
        }
        Ok(MetricExpr::Range {
            op,
            log,
            range_nanos,
            offset_nanos,
            unwrap,
            parameter,
            grouping,
        })
    }

    /// Parses `| unwrap [conversion(]label[)]` and the label filters after it, if present.
    fn unwrap(&mut self) -> Result<Option<Unwrap>, Error> {
        let is_unwrap =
            self.peek() == &Token::Pipe && self.peek_at(1) == &Token::Ident("unwrap".into());
        if !is_unwrap {
            return Ok(None);
        }
        self.position += 2;
        let name = self.ident("a label name")?;
        let conversion = match name.as_str() {
            "duration" | "duration_seconds" if self.peek() == &Token::LParen => {
                Some(NumberKind::Duration)
            }
            "bytes" if self.peek() == &Token::LParen => Some(NumberKind::Bytes),
            _ => None,
        };
        let (label, conversion) = match conversion {
            Some(conversion) => {
                self.position += 1;
                let label = self.ident("a label name")?;
                self.expect(&Token::RParen, ")")?;
                (label, conversion)
            }
            None => (name, NumberKind::Number),
        };
        let mut post_filters = Vec::new();
        while self.peek() == &Token::Pipe {
            self.position += 1;
            post_filters.push(self.label_filter()?);
        }
        Ok(Some(Unwrap {
            label,
            conversion,
            post_filters,
        }))
    }

    fn duration(&mut self, expecting: &str) -> Result<u64, Error> {
        match self.peek() {
            Token::Duration(nanos) if *nanos >= 0.0 => {
                let nanos = *nanos;
                self.position += 1;
                // Durations beyond u64 nanoseconds (585 years) saturate.
                Ok(nanos as u64)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn vector_aggregation(&mut self, op: VectorOp) -> Result<MetricExpr, Error> {
        let mut grouping = self.grouping()?;
        self.expect(&Token::LParen, "(")?;
        let parameter = if matches!(op, VectorOp::Topk | VectorOp::Bottomk) {
            let k = match self.next() {
                Token::Number(k) if k >= 1.0 && k.fract() == 0.0 => k as usize,
                _ => {
                    self.position -= 1;
                    return Err(self.unexpected("a positive integer k"));
                }
            };
            self.expect(&Token::Comma, ",")?;
            Some(k)
        } else {
            None
        };
        let inner = self.metric_expr()?;
        self.expect(&Token::RParen, ")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(MetricExpr::Vector {
            op,
            grouping,
            parameter,
            inner: Box::new(inner),
        })
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, Error> {
        let by = if self.eat_ident("by") {
            true
        } else if self.eat_ident("without") {
            false
        } else {
            return Ok(None);
        };
        self.expect(&Token::LParen, "(")?;
        let mut names = Vec::new();
        while !self.eat(&Token::RParen) {
            names.push(self.ident("a label name")?);
            if !self.eat(&Token::Comma) {
                self.expect(&Token::RParen, ", or )")?;
                break;
            }
        }
        Ok(Some(if by {
            Grouping::By(names)
        } else {
            Grouping::Without(names)
        }))
    }

    fn log_expr(&mut self) -> Result<LogExpr, Error> {
        let matchers = self.selector()?;
        let mut pipeline = Vec::new();
        while let Some(stage) = self.stage()? {
            pipeline.push(stage);
        }
        Ok(LogExpr { matchers, pipeline })
    }

    fn selector(&mut self) -> Result<Vec<LabelMatcher>, Error> {
        self.expect(&Token::LBrace, "{")?;
        let mut matchers = Vec::new();
        while !self.eat(&Token::RBrace) {
            let name = self.ident("a label name")?;
            let op = match self.next() {
                Token::Eq => MatchOp::Equal,
                Token::Ne => MatchOp::NotEqual,
                Token::Re => MatchOp::Regex,
                Token::NotRe => MatchOp::NotRegex,
                _ => {
                    self.position -= 1;
                    return Err(self.unexpected("=, !=, =~ or !~"));
                }
            };
            let value = self.string("STRING")?;
            matchers.push(LabelMatcher::new(name, op, value)?);
            if !self.eat(&Token::Comma) {
                self.expect(&Token::RBrace, ", or }")?;
                break;
            }
        }
        if matchers.is_empty() {
            return Err(error_at(
                self.text,
                self.offset(),
                "syntax error: unexpected }, expecting IDENTIFIER",
            ));
        }
        if matchers.iter().all(|m| m.matches("")) {
            return Err(Error::Parse {
                line: 1,
                column: 1,
                message: "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will".to_string(),
            });
        }
        Ok(matchers)
    }
}

fn range_op(name: &str) -> Option<RangeOp> {
    Some(match name {
        "count_over_time" => RangeOp::CountOverTime,
        "rate" => RangeOp::Rate,
        "bytes_over_time" => RangeOp::BytesOverTime,
        "bytes_rate" => RangeOp::BytesRate,
        "absent_over_time" => RangeOp::AbsentOverTime,
        "sum_over_time" => RangeOp::SumOverTime,
        "avg_over_time" => RangeOp::AvgOverTime,
        "min_over_time" => RangeOp::MinOverTime,
        "max_over_time" => RangeOp::MaxOverTime,
        "stddev_over_time" => RangeOp::StddevOverTime,
        "stdvar_over_time" => RangeOp::StdvarOverTime,
        "quantile_over_time" => RangeOp::QuantileOverTime,
        "first_over_time" => RangeOp::FirstOverTime,
        "last_over_time" => RangeOp::LastOverTime,
        _ => return None,
    })
}

fn vector_op(name: &str) -> Option<VectorOp> {
    Some(match name {
        "sum" => VectorOp::Sum,
        "avg" => VectorOp::Avg,
        "min" => VectorOp::Min,
        "max" => VectorOp::Max,
        "count" => VectorOp::Count,
        "stddev" => VectorOp::Stddev,
        "stdvar" => VectorOp::Stdvar,
        "topk" => VectorOp::Topk,
        "bottomk" => VectorOp::Bottomk,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;

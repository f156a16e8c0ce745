//! Parsing one action's body into a pipeline of commands: operands, function calls with their
//! argument counts checked, `(…)` sub-pipelines, Go's quoted strings and numbers, and the
//! prelude's variables and fields.

use regex::Regex;

use super::segments::SPACE;
use super::tree::{Command, Field, LiteralRegex, Operand};
use super::{TemplateError, MAX_NESTING};

/// Every function, with the least and most arguments it takes (a piped value counts as one).
#[rustfmt::skip]
const FUNCTIONS: [(&str, usize, usize); 23] = [
    ("humanize", 1, 1), ("humanize1024", 1, 1), ("humanizeDuration", 1, 1),
    ("humanizePercentage", 1, 1), ("humanizeTimestamp", 1, 1), ("toUpper", 1, 1),
    ("toLower", 1, 1), ("title", 1, 1), ("stripPort", 1, 1), ("match", 2, 2),
    ("reReplaceAll", 3, 3), ("printf", 1, usize::MAX), ("len", 1, 1), ("index", 2, 2),
    ("not", 1, 1), ("and", 1, usize::MAX), ("or", 1, usize::MAX), ("eq", 2, usize::MAX),
    ("ne", 2, 2), ("lt", 2, 2), ("le", 2, 2), ("gt", 2, 2), ("ge", 2, 2),
];

/// Names Go's or Prometheus' templates know that these do not, and why.
const UNSUPPORTED: [(&str, &str); 3] = [
    (
        "query first label value strvalue sortByLabel",
        "it needs a PromQL engine",
    ),
    (
        "range with define template block break continue",
        "only if, else if, else and end are supported",
    ),
    (
        "print println urlquery html js call slice nil safeHtml externalURL pathPrefix toTime \
         toDuration parseDuration now args tmpl graphLink tableLink",
        "it is not implemented for alert templates",
    ),
];

/// Parses one action's body as a pipeline.
pub(super) fn parse_pipeline(body: &str, action: &str) -> Result<Vec<Command>, TemplateError> {
    let mut parser = ActionParser {
        rest: body,
        action,
        depth: 0,
    };
    let pipeline = parser.pipeline()?;
    match parser.peek() {
        None => Ok(pipeline),
        Some(c) => Err(syntax(format!("unexpected {c:?}"), action)),
    }
}

/// The length of the identifier (alphanumerics and `_`) at the start of `text`; 0 when `text`
/// starts with a digit.
pub(super) fn identifier_len(text: &str) -> usize {
    let len = text.find(|c: char| !(c.is_alphanumeric() || c == '_'));
    let len = len.unwrap_or(text.len());
    if text.starts_with(|c: char| c.is_numeric()) {
        0
    } else {
        len
    }
}

/// A [`TemplateError::Syntax`] for `action`.
pub(super) fn syntax(reason: impl Into<String>, action: &str) -> TemplateError {
    TemplateError::Syntax {
        reason: reason.into(),
        action: action.to_owned(),
    }
}

/// Parses the pipeline of one action's body.
struct ActionParser<'s> {
    rest: &'s str,
    action: &'s str,
    /// How many parentheses are open.
    depth: usize,
}

impl<'s> ActionParser<'s> {
    fn fail(&self, reason: impl Into<String>) -> TemplateError {
        syntax(reason, self.action)
    }

    /// The next character after spaces, not consumed.
    fn peek(&mut self) -> Option<char> {
        self.rest = self.rest.trim_start_matches(SPACE);
        self.rest.chars().next()
    }

    fn take(&mut self, len: usize) -> &'s str {
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        taken
    }

    /// `command | command …`, up to a `)` or the end.
    fn pipeline(&mut self) -> Result<Vec<Command>, TemplateError> {
        let mut commands = Vec::new();
        loop {
            commands.push(self.command(!commands.is_empty())?);
            if self.peek() != Some('|') {
                return Ok(commands);
            }
            self.take(1);
        }
    }

    fn command(&mut self, piped: bool) -> Result<Command, TemplateError> {
        self.peek();
        let word = &self.rest[..identifier_len(self.rest)];
        if let Some(&(name, min, max)) = FUNCTIONS.iter().find(|(name, ..)| *name == word) {
            self.take(word.len());
            let mut args = Vec::new();
            while let Some(arg) = self.operand()? {
                args.push(arg);
            }
            return self.call(name, args, piped, (min, max));
        }
        let start = self.rest;
        let Some(operand) = self.operand()? else {
            return Err(self.fail("missing command"));
        };
        let written = start[..start.len() - self.rest.len()].trim_matches(SPACE);
        if piped {
            return Err(self.fail(format!("{written} after \"|\" is not a function")));
        }
        if self.operand()?.is_some() {
            return Err(self.fail(format!("can't give argument to non-function {written}")));
        }
        Ok(Command::Value(operand))
    }

    /// Checks the argument count and compiles a literal pattern.
    fn call(
        &self,
        name: &'static str,
        args: Vec<Operand>,
        piped: bool,
        (min, max): (usize, usize),
    ) -> Result<Command, TemplateError> {
        let got = args.len() + usize::from(piped);
        if got < min || got > max {
            let want = if min == max {
                min.to_string()
            } else {
                format!("at least {min}")
            };
            let reason = format!("wrong number of arguments for {name}: want {want}, got {got}");
            return Err(self.fail(reason));
        }
        let mut regex = None;
        if let ("match" | "reReplaceAll", Some(Operand::Str(pattern))) = (name, args.first()) {
            let compiled = Regex::new(pattern).map_err(|err| {
                let reason = regex_error_reason(&err);
                self.fail(format!("invalid regular expression {pattern:?}: {reason}"))
            })?;
            regex = Some(LiteralRegex(compiled));
        }
        Ok(Command::Call(name, args, regex))
    }

    /// The next argument; `None` at a `|`, a `)` or the end.
    fn operand(&mut self) -> Result<Option<Operand>, TemplateError> {
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let start = self.rest;
        let next_is_digit = self.rest[c.len_utf8()..].starts_with(|c: char| c.is_ascii_digit());
        let operand = match c {
            '|' | ')' => return Ok(None),
            '(' if self.depth >= MAX_NESTING => {
                return Err(self.fail(format!("parentheses nested deeper than {MAX_NESTING}")))
            }
            '(' => {
                self.take(1);
                self.depth += 1;
                let pipeline = self.pipeline()?;
                self.depth -= 1;
                if self.peek() != Some(')') {
                    return Err(self.fail("unclosed left paren"));
                }
                self.take(1);
                Operand::Pipeline(pipeline)
            }
            '"' => {
                let (text, len) = unquote(self.rest).map_err(|reason| self.fail(reason))?;
                self.take(len);
                Operand::Str(text)
            }
            '`' => match self.rest[1..].find('`') {
                Some(end) => Operand::Str(self.take(end + 2)[1..=end].to_owned()),
                None => return Err(self.fail("unterminated raw quoted string")),
            },
            '.' if !next_is_digit => self.data()?,
            '$' => self.data()?,
            '0'..='9' | '+' | '-' | '.' => self.number()?,
            ':' | '=' => return Err(self.fail("variable declarations are not supported")),
            c if c.is_alphabetic() || c == '_' => self.identifier()?,
            other => return Err(self.fail(format!("unexpected {other:?}"))),
        };
        if let Some(next) = self.rest.chars().next().filter(|c| !"|()".contains(*c)) {
            if !SPACE.contains(&next) {
                let written = &start[..start.len() - self.rest.len()];
                return Err(self.fail(format!("unexpected {next:?} after {written}")));
            }
        }
        Ok(Some(operand))
    }

    /// `true`, `false`, or a function called with no arguments.
    fn identifier(&mut self) -> Result<Operand, TemplateError> {
        let word = self.take(identifier_len(self.rest));
        if word == "true" || word == "false" {
            return Ok(Operand::Bool(word == "true"));
        }
        let action = self.action.to_owned();
        if let Some(&(name, min, max)) = FUNCTIONS.iter().find(|(name, ..)| *name == word) {
            return Ok(Operand::Pipeline(vec![self.call(
                name,
                Vec::new(),
                false,
                (min, max),
            )?]));
        }
        let name = word.to_owned();
        if let Some(&(_, reason)) = UNSUPPORTED
            .iter()
            .find(|(names, _)| names.split_whitespace().any(|known| known == word))
        {
            return Err(TemplateError::Unsupported {
                name,
                reason,
                action,
            });
        }
        if ["if", "else", "end"].contains(&word) {
            return Err(self.fail(format!("unexpected keyword {word:?}")));
        }
        Err(TemplateError::UnknownFunction { name, action })
    }

    /// `$name.key`, `.Field.key` or `$.Field.key`.
    fn data(&mut self) -> Result<Operand, TemplateError> {
        let start = self.rest;
        let variable = match self.rest.strip_prefix('$') {
            Some(rest) => self.take(1 + identifier_len(rest)),
            None => "",
        };
        let mut path = Vec::new();
        while self.rest.starts_with('.') && identifier_len(&self.rest[1..]) > 0 {
            path.push(&self.take(1 + identifier_len(&self.rest[1..]))[1..]);
        }
        let written = &start[..start.len() - self.rest.len()];
        let mut path = path.into_iter();
        let field = match variable {
            "" | "$" => path.next().unwrap_or(""),
            "$labels" => "Labels",
            "$value" => "Value",
            "$externalLabels" => "ExternalLabels",
            "$externalURL" => "ExternalURL",
            name => {
                let (name, action) = (name.to_owned(), self.action.to_owned());
                return Err(TemplateError::UndefinedVariable { name, action });
            }
        };
        let field = match field {
            "Labels" => Field::Labels,
            "Value" => Field::Value,
            "ExternalLabels" => Field::ExternalLabels,
            "ExternalURL" => Field::ExternalUrl,
            "" => return Err(self.fail("the data itself (\".\" or \"$\") cannot be used")),
            other => return Err(self.fail(format!("unknown field .{other} in {written}"))),
        };
        let key = path.next().map(str::to_owned);
        let is_map = matches!(field, Field::Labels | Field::ExternalLabels);
        if path.next().is_some() || (key.is_some() && !is_map) {
            return Err(self.fail(format!("{written} has too many fields")));
        }
        Ok(Operand::Data(field, key))
    }

    /// A number: an int unless it has a `.` or an exponent, as in Go's templates.
    fn number(&mut self) -> Result<Operand, TemplateError> {
        let bytes = self.rest.as_bytes();
        let mut len = 1;
        while let Some(&byte) = bytes.get(len) {
            let exponent_sign =
                matches!(byte, b'+' | b'-') && matches!(bytes[len - 1], b'e' | b'E');
            if !(byte.is_ascii_alphanumeric() || byte == b'.' || exponent_sign) {
                break;
            }
            len += 1;
        }
        let literal = self.take(len);
        let number = match literal.contains(['.', 'e', 'E']) {
            true => literal.parse().ok().map(Operand::Float),
            false => literal.parse().ok().map(Operand::Int),
        };
        number.ok_or_else(|| self.fail(format!("bad number syntax: {literal:?}")))
    }
}

/// What is wrong with a pattern: the last line of the regex crate's message.
pub(super) fn regex_error_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text.lines().last().unwrap_or_default();
    last.trim().trim_start_matches("error: ").to_owned()
}

/// Unquotes the Go double-quoted string at the start of `text`; returns it and its length.
fn unquote(text: &str) -> Result<(String, usize), String> {
    let mut out = Vec::new();
    let mut rest = &text[1..];
    loop {
        let mut chars = rest.chars();
        match chars.next() {
            None | Some('\n') => return Err("unterminated quoted string".to_owned()),
            Some('"') => {
                let len = text.len() - chars.as_str().len();
                return Ok((String::from_utf8_lossy(&out).into_owned(), len));
            }
            Some('\\') => {
                let escape = chars.next().unwrap_or(' ');
                let (start, digits, radix) = match escape {
                    'x' => (2, 2, 16),
                    'u' => (2, 4, 16),
                    'U' => (2, 8, 16),
                    '0'..='7' => (1, 3, 8),
                    _ => (2, 0, 0),
                };
                let written = rest.get(..start + digits).unwrap_or(rest);
                let code = match written.get(start..) {
                    _ if digits == 0 => u32::from(simple_escape(escape)?),
                    Some(code) if code.chars().all(|c| c.is_digit(radix)) => {
                        u32::from_str_radix(code, radix).unwrap_or(u32::MAX)
                    }
                    _ => u32::MAX,
                };
                match (escape, u8::try_from(code), char::from_u32(code)) {
                    ('u' | 'U', _, Some(c)) => out.extend_from_slice(c.to_string().as_bytes()),
                    ('x' | '0'..='7', Ok(byte), _) => out.push(byte),
                    (_, Ok(byte), _) if digits == 0 => out.push(byte),
                    _ => return Err(format!("invalid escape {written:?}")),
                }
                rest = &rest[start + digits..];
            }
            Some(c) => {
                out.extend_from_slice(c.to_string().as_bytes());
                rest = chars.as_str();
            }
        }
    }
}

/// Go's escapes, as the escaped char and the letter after the backslash.
const ESCAPES: [(char, char); 9] = [
    ('\x07', 'a'),
    ('\x08', 'b'),
    ('\x0c', 'f'),
    ('\n', 'n'),
    ('\r', 'r'),
    ('\t', 't'),
    ('\x0b', 'v'),
    ('\\', '\\'),
    ('"', '"'),
];

fn simple_escape(letter: char) -> Result<u8, String> {
    match ESCAPES.iter().find(|(_, known)| *known == letter) {
        Some(&(escaped, _)) => Ok(escaped as u8),
        None => Err(format!("unknown escape sequence \"\\{letter}\"")),
    }
}

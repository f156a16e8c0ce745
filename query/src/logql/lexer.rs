//! Splits LogQL text into tokens, each with its byte offset for error positions. Strings
//! follow Go's quoting (`"…"` with escapes, or raw `` `…` ``), as Loki's do; numbers may carry
//! a duration unit (`5m`, `1h30m`, `250ms`) or a byte unit (`20MB`, `1KiB`).

use super::Error;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
    /// `|=`
    PipeEq,
    /// `|~`
    PipeRe,
    /// `|>` (pattern line filter)
    PipePattern,
    /// `!>` (negative pattern line filter)
    NotPattern,
    /// `|`
    Pipe,
    Gt,
    Ge,
    Lt,
    Le,
    /// `+ - * / % ^`: binary operators, which the engine does not evaluate.
    Arithmetic(char),
    /// `--name`: a parser flag.
    Flag(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A plain number.
    Number(f64),
    /// A duration, nanoseconds.
    Duration(f64),
    /// A byte size.
    Bytes(f64),
    Ident(String),
    Eof,
}

impl Token {
    /// Describes the token in an error message, the way Loki's parser names them.
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Str(text) => format!("STRING {text:?}"),
            Token::Number(value) => format!("NUMBER {value}"),
            Token::Duration(_) => "DURATION".to_string(),
            Token::Bytes(_) => "BYTES".to_string(),
            Token::Ident(name) => format!("IDENTIFIER {name}"),
            Token::Flag(name) => format!("--{name}"),
            Token::Eof => "end of input".to_string(),
            Token::Arithmetic(op) => op.to_string(),
            other => symbol(other).to_string(),
        }
    }
}

fn symbol(token: &Token) -> &'static str {
    match token {
        Token::LBrace => "{",
        Token::RBrace => "}",
        Token::LParen => "(",
        Token::RParen => ")",
        Token::LBracket => "[",
        Token::RBracket => "]",
        Token::Comma => ",",
        Token::Eq => "=",
        Token::EqEq => "==",
        Token::Ne => "!=",
        Token::Re => "=~",
        Token::NotRe => "!~",
        Token::PipeEq => "|=",
        Token::PipeRe => "|~",
        Token::PipePattern => "|>",
        Token::NotPattern => "!>",
        Token::Pipe => "|",
        Token::Gt => ">",
        Token::Ge => ">=",
        Token::Lt => "<",
        Token::Le => "<=",
        _ => "token",
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub(crate) token: Token,
    pub(crate) offset: usize,
}

/// Builds a parse error at a byte offset of `text`, with Loki's 1-based line and column.
pub(crate) fn error_at(text: &str, offset: usize, message: impl Into<String>) -> Error {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    Error::Parse {
        line,
        column,
        message: message.into(),
    }
}

/// Splits `text` into tokens, ending with [`Token::Eof`].
///
/// # Errors
/// [`Error::Parse`] for an unterminated string, a bad escape, an unknown character or a
/// malformed number.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Spanned>, Error> {
    let mut lexer = Lexer {
        text,
        chars: text.char_indices().peekable(),
        tokens: Vec::new(),
    };
    lexer.run()?;
    let mut tokens = lexer.tokens;
    tokens.push(Spanned {
        token: Token::Eof,
        offset: text.len(),
    });
    Ok(tokens)
}

struct Lexer<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    tokens: Vec<Spanned>,
}

impl<'a> Lexer<'a> {
    fn run(&mut self) -> Result<(), Error> {
        while let Some((offset, c)) = self.chars.next() {
            let token = match c {
                c if c.is_whitespace() => continue,
                '#' => {
                    while self.chars.next_if(|(_, c)| *c != '\n').is_some() {}
                    continue;
                }
                '{' => Token::LBrace,
                '}' => Token::RBrace,
                '(' => Token::LParen,
                ')' => Token::RParen,
                '[' => Token::LBracket,
                ']' => Token::RBracket,
                ',' => Token::Comma,
                '=' => self.pick(&[('=', Token::EqEq), ('~', Token::Re)], Token::Eq),
                '!' => match self.chars.next() {
                    Some((_, '=')) => Token::Ne,
                    Some((_, '~')) => Token::NotRe,
                    Some((_, '>')) => Token::NotPattern,
                    _ => return Err(error_at(self.text, offset, "syntax error: unexpected !")),
                },
                '|' => self.pick(
                    &[
                        ('=', Token::PipeEq),
                        ('~', Token::PipeRe),
                        ('>', Token::PipePattern),
                    ],
                    Token::Pipe,
                ),
                '>' => self.pick(&[('=', Token::Ge)], Token::Gt),
                '<' => self.pick(&[('=', Token::Le)], Token::Lt),
                '"' => Token::Str(self.quoted(offset)?),
                '`' => Token::Str(self.raw(offset)?),
                '-' if self.chars.next_if(|(_, c)| *c == '-').is_some() => Token::Flag(
                    self.take_while(offset + 2, |c| is_ident_char(c) || c == '-')
                        .to_string(),
                ),
                '+' | '-' | '*' | '/' | '%' | '^' => Token::Arithmetic(c),
                c if c.is_ascii_digit() || c == '.' => self.number(offset)?,
                c if c.is_ascii_alphabetic() || c == '_' => {
                    Token::Ident(self.take_while(offset, is_ident_char).to_string())
                }
                other => {
                    return Err(error_at(
                        self.text,
                        offset,
                        format!("syntax error: unexpected character {other:?}"),
                    ))
                }
            };
            self.tokens.push(Spanned { token, offset });
        }
        Ok(())
    }

    /// Returns the token of the first `(next char, token)` pair whose char comes next
    /// (consuming it), or `otherwise`.
    fn pick(&mut self, choices: &[(char, Token)], otherwise: Token) -> Token {
        for (next, token) in choices {
            if self.chars.next_if(|(_, c)| c == next).is_some() {
                return token.clone();
            }
        }
        otherwise
    }

    /// Consumes characters while `keep` holds and returns the text from `start`.
    fn take_while(&mut self, start: usize, keep: impl Fn(char) -> bool) -> &'a str {
        let mut end = self.text.len();
        while let Some(&(offset, c)) = self.chars.peek() {
            if !keep(c) {
                end = offset;
                break;
            }
            self.chars.next();
        }
        self.text.get(start..end).unwrap_or_default()
    }

    fn number(&mut self, start: usize) -> Result<Token, Error> {
        let text = self.take_while(start, |c| c.is_ascii_alphanumeric() || c == '.' || c == 'µ');
        if let Ok(value) = text.parse::<f64>() {
            return Ok(Token::Number(value));
        }
        if let Some(nanos) = parse_duration_nanos(text) {
            return Ok(Token::Duration(nanos));
        }
        if let Some(bytes) = parse_bytes(text) {
            return Ok(Token::Bytes(bytes));
        }
        let text = text.to_string();
        Err(error_at(
            self.text,
            start,
            format!("syntax error: invalid number, duration or size {text:?}"),
        ))
    }

    fn raw(&mut self, start: usize) -> Result<String, Error> {
        let mut out = String::new();
        for (_, c) in self.chars.by_ref() {
            if c == '`' {
                return Ok(out);
            }
            out.push(c);
        }
        Err(error_at(
            self.text,
            start,
            "syntax error: unterminated raw string",
        ))
    }

    fn quoted(&mut self, start: usize) -> Result<String, Error> {
        let mut out = String::new();
        while let Some((offset, c)) = self.chars.next() {
            match c {
                '"' => return Ok(out),
                '\n' => break,
                '\\' => {
                    let escaped = self.escape().ok_or_else(|| {
                        error_at(self.text, offset, "syntax error: invalid escape in string")
                    })?;
                    out.push(escaped);
                }
                c => out.push(c),
            }
        }
        Err(error_at(
            self.text,
            start,
            "syntax error: unterminated string",
        ))
    }

    /// Reads one escape after `\`, as Go's `strconv.Unquote` does.
    fn escape(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        let simple = match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' | '"' | '\'' => c,
            'x' => return self.code_point(2, 16),
            'u' => return self.code_point(4, 16),
            'U' => return self.code_point(8, 16),
            '0'..='7' => {
                let rest = self.code_point(2, 8)?;
                return char::from_u32(c.to_digit(8)? * 64 + u32::from(rest));
            }
            _ => return None,
        };
        Some(simple)
    }

    fn code_point(&mut self, digits: usize, radix: u32) -> Option<char> {
        let mut value: u32 = 0;
        for _ in 0..digits {
            let (_, c) = self.chars.next()?;
            value = value.checked_mul(radix)?.checked_add(c.to_digit(radix)?)?;
        }
        char::from_u32(value)
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses a duration in Go's or Prometheus' notation (`1h30m`, `1.5s`, `250ms`, `7d`, `2w`)
/// into nanoseconds. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`, `y`.
pub fn parse_duration_nanos(text: &str) -> Option<f64> {
    let mut rest = text.trim();
    let negative = rest.starts_with('-');
    rest = rest.trim_start_matches(['-', '+']);
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let value: f64 = number.parse().ok()?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 7.0 * 86_400e9,
            "y" => 365.0 * 86_400e9,
            _ => return None,
        };
        total += value * scale;
        rest = next;
    }
    Some(if negative { -total } else { total })
}

/// Parses a humanised byte size (`20MB`, `1.5 KiB`, `512`, `1k`) as go-humanize does:
/// decimal units (`kB`, `MB`, …) and binary ones (`KiB`, `MiB`, …), case-insensitive.
pub fn parse_bytes(text: &str) -> Option<f64> {
    let text = text.trim();
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return None,
    };
    Some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|spanned| spanned.token)
            .collect()
    }

    #[test]
    fn tokens_of_a_typical_query() {
        assert_eq!(
            kinds(r#"{app="foo"} |= `a"b` != "c\td" | json | status >= 500 [5m]"#),
            [
                Token::LBrace,
                Token::Ident("app".into()),
                Token::Eq,
                Token::Str("foo".into()),
                Token::RBrace,
                Token::PipeEq,
                Token::Str("a\"b".into()),
                Token::Ne,
                Token::Str("c\td".into()),
                Token::Pipe,
                Token::Ident("json".into()),
                Token::Pipe,
                Token::Ident("status".into()),
                Token::Ge,
                Token::Number(500.0),
                Token::LBracket,
                Token::Duration(300e9),
                Token::RBracket,
                Token::Eof,
            ]
        );
        assert_eq!(kinds("20MB")[0], Token::Bytes(20e6));
        assert_eq!(kinds("1h30m")[0], Token::Duration(5400e9));
        assert_eq!(kinds("--strict")[0], Token::Flag("strict".into()));
        assert_eq!(kinds("# comment\n|>")[0], Token::PipePattern);
        assert_eq!(kinds(r#""\u00e9\x41\101""#)[0], Token::Str("éAA".into()));
    }

    #[test]
    fn errors_name_line_and_column() {
        let error = tokenize("{app=\"foo\"}\n  |= \"open").unwrap_err();
        assert_eq!(
            error.to_string(),
            "parse error at line 2, col 6: syntax error: unterminated string"
        );
        assert!(tokenize("{a=\"\\q\"}").is_err());
        assert!(tokenize("5zz").is_err());
        assert!(tokenize("@").is_err());
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration_nanos("1.5s"), Some(1.5e9));
        assert_eq!(parse_duration_nanos("250ms"), Some(250e6));
        assert_eq!(parse_duration_nanos("2w"), Some(14.0 * 86_400e9));
        assert_eq!(parse_duration_nanos("5x"), None);
        assert_eq!(parse_bytes("1KiB"), Some(1024.0));
        assert_eq!(parse_bytes("1.5 kb"), Some(1500.0));
        assert_eq!(parse_bytes("12"), Some(12.0));
        assert_eq!(parse_bytes("1x"), None);
    }
}

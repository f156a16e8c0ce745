//! Request parameters as Prometheus and Loki read them: the query string, plus an
//! `application/x-www-form-urlencoded` body on POST (body pairs first, then the query
//! string's, so the first value of a repeated name comes from the body).

use axum::body::Body;
use axum::extract::Request;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method};

use crate::error::Error;

/// The largest form body read.
const MAX_FORM_BODY_BYTES: usize = 10 << 20;

/// Reads a request's parameters (in order) and keeps its headers.
///
/// # Errors
/// [`Error::InvalidParameter`] for a body that cannot be read or text that does not decode.
pub(crate) async fn request_pairs(
    request: Request<Body>,
) -> Result<(Vec<(String, String)>, HeaderMap), Error> {
    let (parts, body) = request.into_parts();
    let mut pairs = Vec::new();
    let is_form = parts.method == Method::POST
        && parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
    if is_form {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BODY_BYTES)
            .await
            .map_err(|error| {
                Error::invalid_parameter("body", format!("error reading form values: {error}"))
            })?;
        decode_form(&bytes, &mut pairs)
            .map_err(|reason| Error::invalid_parameter("body", reason))?;
    }
    if let Some(query) = parts.uri.query() {
        decode_form(query.as_bytes(), &mut pairs)
            .map_err(|reason| Error::invalid_parameter("query string", reason))?;
    }
    Ok((pairs, parts.headers))
}

/// Decodes `application/x-www-form-urlencoded` text into `out`.
pub(crate) fn decode_form(text: &[u8], out: &mut Vec<(String, String)>) -> Result<(), String> {
    for pair in text.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        out.push((percent_decode(name)?, percent_decode(value)?));
    }
    Ok(())
}

/// Decodes `+` and `%XX` escapes; the result must be UTF-8.
fn percent_decode(text: &[u8]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "invalid URL escape {:?}",
                            String::from_utf8_lossy(&text[i..text.len().min(i + 3)])
                        )
                    })?;
                bytes.push(hex);
                i += 2;
            }
            other => bytes.push(other),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| "parameters must be UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let mut pairs = Vec::new();
        decode_form(b"query=%7Ba%3D%22b%22%7D+x&limit=5&flag", &mut pairs).unwrap();
        assert_eq!(
            pairs,
            [
                ("query".to_string(), "{a=\"b\"} x".to_string()),
                ("limit".to_string(), "5".to_string()),
                ("flag".to_string(), String::new())
            ]
        );
        assert!(decode_form(b"a=%zz", &mut Vec::new()).is_err());
    }
}

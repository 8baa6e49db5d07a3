//! Reading a request body: the content type, the size limit, and JSON parsed naming the
//! failing field's path.
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;

use super::problem::{too_large, ItemProblem, Problem};
use super::MAX_BODY_BYTES;

/// 415, telling the content type to send.
pub fn unsupported_media_type(expected: &str) -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
    )
    .detail(format!("send the body as Content-Type: {expected}"))
}

/// Reads at most [`MAX_BODY_BYTES`] within `timeout` (413 beyond, whether declared or
/// streamed; 408 for a body that does not arrive in time).
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    timeout: Duration,
) -> Result<Bytes, Problem> {
    read_body_within(headers, body, MAX_BODY_BYTES, timeout).await
}

/// Reads at most `limit` bytes within `timeout`: a client that declares a body and sends it
/// slowly or never must not hold the request (and its connection) open forever.
pub async fn read_body_within(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| body_timeout(timeout))?;
    read.map_err(|err| {
        let limited = std::error::Error::source(&err)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if limited {
            too_large(limit)
        } else {
            Problem::bad_request("unreadable-body", "the request body could not be read")
        }
    })
}

fn body_timeout(timeout: Duration) -> Problem {
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        "Request timeout",
    )
    .detail(format!(
        "the request body did not arrive within {} s",
        timeout.as_secs()
    ))
}

/// Whether the content type's essence (without parameters) is `essence`.
pub fn content_type_is(headers: &HeaderMap, essence: &str) -> bool {
    content_type_essence(headers).is_some_and(|e| e == essence)
}

fn content_type_essence(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

pub fn is_json(headers: &HeaderMap) -> bool {
    content_type_essence(headers).is_some_and(|essence| {
        essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"))
    })
}

/// Parses a whole body; a syntax error, a wrong shape or a key given twice in one object
/// (at any depth: the first or the last value would be a guess) is a 400 naming the field's
/// path.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if let Some(path) = duplicate_key(body) {
        return Err(Problem::bad_request(
            "duplicate-key",
            format!("`{path}` is given twice; give each key of an object once"),
        )
        .field(path));
    }
    parse_again(body)
}

/// Parses into `T` a body that [`parse`] already accepted (as a `Value`, say): its keys are
/// known to be unique, so they are not walked a second time.
pub fn parse_again<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = field_path(&err.path().to_string(), err.inner());
        let problem = shape_problem(err.inner());
        match path {
            Some(path) => problem.field(path),
            None => problem,
        }
    })?;
    de.end().map_err(|err| shape_problem(&err))?;
    Ok(value)
}

/// The path of the first key that appears twice in one object of the JSON document `body`
/// (`events[1].type`), if any. Invalid JSON has none: parsing it reports the syntax error.
fn duplicate_key(body: &[u8]) -> Option<String> {
    let mut path = String::new();
    let mut found = false;
    let mut de = serde_json::Deserializer::from_slice(body);
    let walked = serde::de::DeserializeSeed::deserialize(
        UniqueKeys {
            path: &mut path,
            found: &mut found,
        },
        &mut de,
    );
    (walked.is_err() && found).then_some(path)
}

/// Walks a JSON value, failing at the first key repeated within an object; `path` is then
/// where it is and `found` is set. (serde_json's recursion limit bounds the depth.)
struct UniqueKeys<'a> {
    path: &'a mut String,
    found: &'a mut bool,
}

impl UniqueKeys<'_> {
    fn at(&mut self) -> UniqueKeys<'_> {
        UniqueKeys {
            path: self.path,
            found: self.found,
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let len = self.path.len();
            self.path.push_str(&format!("[{index}]"));
            if seq.next_element_seed(self.at())?.is_none() {
                self.path.truncate(len);
                return Ok(());
            }
            self.path.truncate(len);
            index += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let len = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(&key);
            if !seen.insert(key) {
                *self.found = true;
                return Err(serde::de::Error::custom("duplicate key"));
            }
            map.next_value_seed(self.at())?;
            self.path.truncate(len);
        }
        Ok(())
    }
}

/// Parses one item of a batch; errors name `items[i].field`.
pub fn parse_item<T: DeserializeOwned>(
    value: serde_json::Value,
    index: usize,
) -> Result<T, ItemProblem> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let field = match field_path(&err.path().to_string(), err.inner()) {
            Some(path) => format!("items[{index}].{path}"),
            None => format!("items[{index}]"),
        };
        ItemProblem {
            field,
            detail: err.inner().to_string(),
            status: 400,
        }
    })
}

fn shape_problem(err: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::bad_request("invalid-json", format!("the body is not valid JSON: {err}"))
        }
        Category::Data => Problem::bad_request("invalid-body", err.to_string()),
    }
}

/// The failing field: the path where deserialization stopped, plus the missing field's name
/// for "missing field" errors (which serde reports at the enclosing object).
fn field_path(path: &str, err: &serde_json::Error) -> Option<String> {
    let message = err.to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let base = (path != ".").then_some(path);
    match (base, missing) {
        (Some(base), Some(field)) => Some(format!("{base}.{field}")),
        (None, Some(field)) => Some(field.to_string()),
        (Some(base), None) => Some(base.to_string()),
        (None, None) => None,
    }
}

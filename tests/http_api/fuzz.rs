//! Generated requests against every route (SQLite store): random bytes, random JSON shaped
//! like each route's body, and valid bodies with random edits. Whatever comes in, the answer
//! arrives within a bound, is never a 5xx, an error is problem+json with its status and a
//! detail, and a refused request changes nothing stored. Inbound webhooks are signed, so the
//! generated bodies reach their parsers. The number of cases is fixed (CI runs the same
//! budget every time); `PROPTEST_CASES` raises it for a longer hunt.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use axum::body::Body;
use axum::http::{header, Method, Request};
use nudge_core::ports::Clock;
use nudge_tests::generated_cases;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use crate::suite::{
    paid, signature_of, twilio_url, wang, Api, Reply, ACME_NUMBER, TWILIO_TOKEN, WEBHOOK_SECRET,
};

/// The most one request may take; a request that takes longer is a hang.
const BOUND: Duration = Duration::from_secs(10);

/// Text with what breaks parsers: quotes, braces, escapes, control characters, non-ASCII,
/// wide characters and unpaired-surrogate escapes.
fn nasty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>().prop_map(|c| c.to_string()),
            2 => prop::sample::select(vec![
                "\"", "\\", "{", "}", "[", "]", ":", ",", "\u{0}", "\n", "\r\n", "\u{7f}",
                "\\ud800", "退订", "ＴＤ", "【", "】", "%", "%ff", "../", "{{", "}}", "1e999",
                "-0", "null", "true", "+86", "13800138000", "2026-03-02T10:00:00Z",
            ])
            .prop_map(str::to_string),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// A JSON value using `keys` (the route's own field names) and random ones, nested a little.
fn json_value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(keys).prop_map(str::to_string),
            1 => nasty_text(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Random edits of `valid`: a byte range removed, random bytes inserted, bytes replaced.
fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len().max(1);
    prop::collection::vec(
        (0..3u8, 0..len, prop::collection::vec(any::<u8>(), 0..8)),
        1..5,
    )
    .prop_map(move |edits| {
        let mut bytes = valid.clone();
        for (kind, at, insert) in edits {
            let at = at.min(bytes.len());
            match kind {
                0 => {
                    let end = (at + insert.len() + 1).min(bytes.len());
                    bytes.drain(at..end);
                }
                1 => {
                    bytes.splice(at..at, insert);
                }
                _ => {
                    for (i, b) in insert.into_iter().enumerate() {
                        if let Some(slot) = bytes.get_mut(at + i) {
                            *slot = b;
                        }
                    }
                }
            }
        }
        bytes
    })
}

/// A body for a route: random bytes, random JSON with its keys, or a valid body edited.
fn body(keys: &'static [&'static str], valid: Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        3 => json_value(keys).prop_map(|v| v.to_string().into_bytes()),
        3 => mutated(valid.to_string().into_bytes()),
    ]
}

/// A path segment: random text, percent-encoded as a client would send it.
fn segment() -> impl Strategy<Value = String> {
    nasty_text().prop_map(|s| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    })
}

/// What every answer must be.
fn check_answer(what: &str, reply: &Reply) -> Result<(), TestCaseError> {
    let status = reply.status.as_u16();
    prop_assert!(status < 500, "{what}: {status} {}", reply.body);
    if status >= 400 {
        let content_type = reply.headers[header::CONTENT_TYPE].to_str().unwrap_or("");
        prop_assert_eq!(content_type, "application/problem+json", "{}", what);
        prop_assert!(
            reply.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("https://nudge.dev/problems/")),
            "{what}: {}",
            reply.body
        );
        prop_assert_eq!(reply.body["status"].as_u64(), Some(u64::from(status)));
        prop_assert!(
            reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {}",
            reply.body
        );
    }
    Ok(())
}

/// Sends `request` within [`BOUND`].
async fn bounded(api: &Api, what: &str, request: Request<Body>) -> Result<Reply, TestCaseError> {
    tokio::time::timeout(BOUND, api.send(request))
        .await
        .map_err(|_| TestCaseError::fail(format!("{what}: no answer within {BOUND:?}")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn sqlite_api() -> Api {
    let store: Arc<dyn nudge_core::ports::Store> =
        Arc::new(nudge_sqlite::SqliteStore::in_memory().unwrap());
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    api
}

#[derive(Clone, Debug)]
enum Route {
    PutCustomer(String),
    GetCustomer(String),
    DeleteCustomer(String),
    Messages(String),
    Batch,
    Events,
    Preview,
    Stats(String),
    Replies(String),
}

fn route() -> impl Strategy<Value = Route> {
    let query = || {
        prop::collection::vec(
            (
                prop::sample::select(vec!["from", "to", "rule", "limit", "x"]),
                segment(),
            ),
            0..4,
        )
        .prop_map(|pairs| {
            let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if joined.is_empty() {
                String::new()
            } else {
                format!("?{}", joined.join("&"))
            }
        })
    };
    let id = prop_oneof![Just("c1".to_string()), segment()];
    prop_oneof![
        3 => id.clone().prop_map(Route::PutCustomer),
        1 => id.clone().prop_map(Route::GetCustomer),
        1 => id.clone().prop_map(Route::DeleteCustomer),
        1 => id.prop_map(Route::Messages),
        2 => Just(Route::Batch),
        3 => Just(Route::Events),
        2 => Just(Route::Preview),
        1 => query().prop_map(Route::Stats),
        1 => query().prop_map(Route::Replies),
    ]
}

const CUSTOMER_KEYS: &[&str] = &[
    "phone",
    "region",
    "timezone",
    "locale",
    "attributes",
    "consent",
    "name",
    "plan",
    "trial_started_at",
    "id",
    "customers",
];
const EVENT_KEYS: &[&str] = &[
    "event_id",
    "customer_id",
    "type",
    "occurred_at",
    "properties",
    "events",
    "order_id",
];
const PREVIEW_KEYS: &[&str] = &["rule", "customer_id", "customer", "event", "at", "phone"];

/// The request for `route`, with `body` where the route takes one.
fn request_for(route: &Route, body: Vec<u8>) -> (Method, String, Vec<u8>) {
    match route {
        Route::PutCustomer(id) => (Method::PUT, format!("/v1/customers/{id}"), body),
        Route::GetCustomer(id) => (Method::GET, format!("/v1/customers/{id}"), Vec::new()),
        Route::DeleteCustomer(id) => (Method::DELETE, format!("/v1/customers/{id}"), Vec::new()),
        Route::Messages(id) => (
            Method::GET,
            format!("/v1/customers/{id}/messages"),
            Vec::new(),
        ),
        Route::Batch => (Method::POST, "/v1/customers:batch".into(), body),
        Route::Events => (Method::POST, "/v1/events".into(), body),
        Route::Preview => (Method::POST, "/v1/preview".into(), body),
        Route::Stats(query) => (Method::GET, format!("/v1/stats{query}"), Vec::new()),
        Route::Replies(query) => (
            Method::GET,
            format!("/v1/reports/replies{query}"),
            Vec::new(),
        ),
    }
}

fn route_and_body() -> impl Strategy<Value = (Route, Vec<u8>)> {
    route().prop_flat_map(|route| {
        let body = match &route {
            Route::Batch => body(
                CUSTOMER_KEYS,
                json!({"customers": [{"id": "c2", "phone": "13900139000"}]}),
            )
            .boxed(),
            Route::Events => body(EVENT_KEYS, paid("e1", "c1")).boxed(),
            Route::Preview => body(
                PREVIEW_KEYS,
                json!({"rule": "thank-you", "customer_id": "c1"}),
            )
            .boxed(),
            _ => body(CUSTOMER_KEYS, wang()).boxed(),
        };
        (Just(route), body)
    })
}

/// Every API route, with the admin key: never a 5xx or a bare error, and a refused request
/// stores nothing.
#[test]
fn generated_api_requests_get_a_clear_answer_and_refusals_store_nothing() {
    let rt = runtime();
    let api = rt.block_on(sqlite_api());
    let mut runner = TestRunner::new(generated_cases(1500));
    runner
        .run(&route_and_body(), |(route, body)| {
            rt.block_on(async {
                let (method, path, body) = request_for(&route, body);
                let what = format!("{method} {path} {}", String::from_utf8_lossy(&body));
                let Ok(uri) = path.parse::<axum::http::Uri>() else {
                    return Ok(());
                };
                let mut request = Api::request(method.clone(), &path, Some(&api.admin), &body);
                *request.uri_mut() = uri;
                let before = api.snapshot(&["c1"]).await;
                let reply = bounded(&api, &what, request).await?;
                check_answer(&what, &reply)?;
                let writes_c1 = matches!(&route, Route::PutCustomer(id) | Route::DeleteCustomer(id) if id == "c1")
                    || matches!(route, Route::Events | Route::Batch);
                if reply.status.as_u16() >= 400 || !writes_c1 {
                    prop_assert_eq!(api.snapshot(&["c1"]).await, before, "{}", what);
                }
                if api.snapshot(&["c1"]).await[0]["customer"].is_null() {
                    // A valid delete went through: put the customer back for the next case.
                    api.put_customer("c1", wang()).await;
                }
                Ok(())
            })
        })
        .unwrap();
}

/// The inbound webhooks, signed so that generated bodies reach the parsers: generic JSON and
/// Twilio's form.
#[test]
fn generated_inbound_webhooks_get_a_clear_answer() {
    let rt = runtime();
    let api = rt.block_on(async {
        let store: Arc<dyn nudge_core::ports::Store> =
            Arc::new(nudge_sqlite::SqliteStore::in_memory().unwrap());
        let api = Api::inbound(store).await;
        api.seed_customer("c1", "13800138000").await;
        api
    });
    let generic = body(
        &["from", "to", "body", "message_id", "in_reply_to"],
        json!({"from": "+8613800138000", "to": ACME_NUMBER, "body": "TD", "message_id": "m1"}),
    );
    // Twilio's fields, each mostly present with a plausible or a nasty value, plus others.
    let value = |plausible: &'static [&'static str]| {
        prop::option::weighted(
            0.9,
            prop_oneof![
                2 => prop::sample::select(plausible).prop_map(str::to_string),
                1 => nasty_text(),
            ],
        )
    };
    let extra = prop::collection::vec((nasty_text(), nasty_text()), 0..3);
    let form = prop_oneof![
        4 => (
            value(&["+8613800138000", "13800138000", "+1555"]),
            value(&[ACME_NUMBER, "+8613900000002"]),
            value(&["TD", "退订", "1", "START", "HELP"]),
            value(&["SM1", "SM2"]),
            extra,
        )
            .prop_map(|(from, to, text, sid, extra)| {
                let mut pairs: Vec<(String, String)> = [
                    ("From", from),
                    ("To", to),
                    ("Body", text),
                    ("MessageSid", sid),
                ]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), v?)))
                .collect();
                pairs.extend(extra);
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
                    .into_bytes()
            }),
        1 => prop::collection::vec(any::<u8>(), 0..128),
    ];
    let mut runner = TestRunner::new(generated_cases(1000));
    let age = std::cell::Cell::new(0i64);
    runner
        .run(
            &(any::<bool>(), generic, form),
            |(json_route, json_body, form_body)| {
                rt.block_on(async {
                    age.set(age.get() + 1);
                    let now = api.clock.now().timestamp() - age.get() % 200;
                    let request = if json_route {
                        let signature = signature_of(
                            WEBHOOK_SECRET,
                            now,
                            "POST",
                            "/v1/inbound/generic",
                            &json_body,
                        );
                        Request::builder()
                            .method(Method::POST)
                            .uri("/v1/inbound/generic")
                            .header(header::CONTENT_TYPE, "application/json")
                            .header(nudge_http::SIGNATURE_HEADER, signature)
                            .body(Body::from(json_body.clone()))
                            .unwrap()
                    } else {
                        let params: Vec<(String, String)> = form_urlencoded::parse(&form_body)
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                        let signature =
                            nudge_http::twilio_signature(TWILIO_TOKEN, &twilio_url(), &params);
                        Request::builder()
                            .method(Method::POST)
                            .uri("/v1/inbound/twilio")
                            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .header(nudge_http::TWILIO_SIGNATURE_HEADER, signature)
                            .body(Body::from(form_body.clone()))
                            .unwrap()
                    };
                    let what = if json_route {
                        String::from_utf8_lossy(&json_body).into_owned()
                    } else {
                        String::from_utf8_lossy(&form_body).into_owned()
                    };
                    let reply = bounded(&api, &what, request).await?;
                    check_answer(&what, &reply)
                })
            },
        )
        .unwrap();
}

//! The HTTP API suite: every check takes a fresh, empty store, so the same suite can run on
//! each `Store` adapter (`http_api_tests!(fresh_store())`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use nudge_core::adapters::clock::ManualClock;
use nudge_core::domain::{CustomerId, Scope, TenantId};
use nudge_core::http::{self, generate_key, sign, AppState, HttpConfig};
use nudge_core::ports::{Clock, Store};
use nudge_core::rulebook;
use nudge_core::service::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

pub const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
attributes: [name, plan, trial_started_at]
policy:
  window: {start: "09:00", end: "20:00"}
  transactional: {window: {start: "08:00", end: "22:00"}}
  care: {per_week: 3, on_cap: defer}
  opt_out_footer: "回复TD退订"
rules:
  - id: trial-day-7
    category: care
    trigger: {date: trial_started_at, offset: 7d, at: "10:00"}
    when: customer.plan == "trial"
    template: "{{name}}您好，试用已满7天，有问题回复1预约演示。"
  - id: thank-you
    category: transactional
    trigger: {event: order.paid}
    template: "{{name}}您好，订单{{event.properties.order_id}}已付款。"
"#;

/// Monday 2026-03-02 11:00 in Shanghai: inside every send window.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 3, 0, 0).unwrap()
}

pub fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

pub struct Api {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub admin: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or_default()
    }

    /// An error response must be problem+json with a type, status and request id.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(self.body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://nudge.dev/problems/"));
        assert_eq!(self.body["status"], status);
        assert!(!self.body["request_id"].as_str().unwrap().is_empty());
    }
}

impl Api {
    pub async fn new(store: Arc<dyn Store>) -> Api {
        Api::with_config(store, HttpConfig::default()).await
    }

    pub async fn with_secret(store: Arc<dyn Store>, secret: &str) -> Api {
        let config = HttpConfig {
            webhook_secrets: HashMap::from([(tenant(), secret.to_string())]),
        };
        Api::with_config(store, config).await
    }

    async fn with_config(store: Arc<dyn Store>, config: HttpConfig) -> Api {
        let book = rulebook::parse(RULES, "rules.yaml").unwrap();
        let clock = Arc::new(ManualClock::new(start()));
        let engine = Arc::new(Engine::new(store.clone(), clock.clone(), vec![book]));
        let router = http::router(AppState::new(engine, config));
        let mut api = Api {
            router,
            store,
            clock,
            admin: String::new(),
        };
        api.admin = api.key(&[Scope::Admin], &[]).await;
        api
    }

    /// Creates and stores a key; returns the full key.
    pub async fn key(&self, scopes: &[Scope], regions: &[&str]) -> String {
        let regions = regions.iter().map(|r| r.to_string()).collect();
        let (full, key) =
            generate_key(tenant(), scopes.to_vec(), regions, None, self.clock.now()).unwrap();
        self.store.put_api_key(&key).await.unwrap();
        full
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn request(method: Method, path: &str, key: Option<&str>, body: &[u8]) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder.body(Body::from(body.to_vec())).unwrap()
    }

    pub async fn raw(&self, method: Method, path: &str, key: Option<&str>, body: &[u8]) -> Reply {
        self.send(Api::request(method, path, key, body)).await
    }

    pub async fn call(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, path, Some(key), &bytes).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, &self.admin.clone(), body).await
    }

    pub async fn put_customer(&self, id: &str, body: Value) -> Reply {
        self.admin(Method::PUT, &format!("/v1/customers/{id}"), Some(body))
            .await
    }

    /// Everything the store holds about these customers (to show a request changed nothing).
    pub async fn snapshot(&self, ids: &[&str]) -> Value {
        let mut out = Vec::new();
        for id in ids {
            let id = CustomerId::parse(*id).unwrap();
            let customer = self.store.get_customer(&tenant(), &id).await.unwrap();
            let events = self
                .store
                .customer_events(&tenant(), &id, 100)
                .await
                .unwrap();
            let messages = self
                .store
                .customer_messages(&tenant(), &id, 100)
                .await
                .unwrap();
            let timers = self.store.customer_timers(&tenant(), &id).await.unwrap();
            out.push(json!({"customer": customer, "events": events.len(),
                "messages": messages.len(), "timers": timers.len()}));
        }
        json!(out)
    }
}

pub fn wang() -> Value {
    json!({"phone": "13800138000", "region": "north", "attributes": {"name": "王芳"}})
}

pub fn paid(event_id: &str, customer: &str) -> Value {
    json!({"event_id": event_id, "customer_id": customer, "type": "order.paid",
        "properties": {"order_id": "A-1"}})
}

// ---------------------------------------------------------------------------------------------

pub async fn health_needs_no_key(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let r = api.raw(Method::GET, "/healthz", None, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
}

pub async fn unknown_routes_and_methods_are_problems(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let r = api.admin(Method::GET, "/v1/nothing", None).await;
    r.assert_problem(404);
    let r = api.admin(Method::PATCH, "/v1/customers/c1", None).await;
    r.assert_problem(405);
    assert!(r.headers.contains_key(header::ALLOW));
    let r = api.admin(Method::GET, "/v1/events", None).await;
    r.assert_problem(405);
}

pub async fn customers_round_trip(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let body = json!({"phone": "+86 138 0013 8000", "region": "north", "timezone": "Asia/Shanghai",
        "locale": "zh-CN", "attributes": {"name": "王芳😀", "nick": "ＡＢＣ１２３！", "plan": "trial"}});
    let r = api.put_customer("c1", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["phone"], "+8613800138000");
    let r = api.admin(Method::GET, "/v1/customers/c1", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["attributes"]["name"], "王芳😀");
    assert_eq!(r.body["attributes"]["nick"], "ＡＢＣ１２３！");
    assert_eq!(r.body["region"], "north");
    // A body with the same id replaces; a different id is refused.
    let mut again = wang();
    again["id"] = json!("c1");
    let r = api.put_customer("c1", again).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["attributes"], json!({"name": "王芳"}));
    let mut other = wang();
    other["id"] = json!("c2");
    let r = api.put_customer("c1", other).await;
    r.assert_problem(422);
    assert_eq!(r.field(), "id");
    let r = api.admin(Method::DELETE, "/v1/customers/c1", None).await;
    assert_eq!(r.status, 204);
    api.admin(Method::GET, "/v1/customers/c1", None)
        .await
        .assert_problem(404);
    api.admin(Method::DELETE, "/v1/customers/c1", None)
        .await
        .assert_problem(404);
}

pub async fn semantic_errors_are_422_and_store_nothing(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    for (body, field) in [
        (json!({"phone": "12"}), "phone"),
        (
            json!({"phone": "13800138000", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"phone": "13800138000", "attributes": {"trial_started_at": "soon"}}),
            "attributes.trial_started_at",
        ),
    ] {
        let r = api.put_customer("c1", body).await;
        r.assert_problem(422);
        assert_eq!(r.field(), field);
    }
    assert_eq!(api.snapshot(&["c1"]).await[0]["customer"], Value::Null);
}

pub async fn malformed_bodies_are_400_and_change_nothing(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    let before = api.snapshot(&["c1"]).await;
    let key = api.admin.clone();
    let r = api
        .raw(
            Method::PUT,
            "/v1/customers/c1",
            Some(&key),
            br#"{"phone": "1380"#,
        )
        .await;
    r.assert_problem(400);
    assert!(r.body["type"].as_str().unwrap().ends_with("invalid-json"));
    let r = api
        .raw(
            Method::PUT,
            "/v1/customers/c1",
            Some(&key),
            br#"{"phone": 123}"#,
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "phone");
    let r = api
        .raw(
            Method::PUT,
            "/v1/customers/c1",
            Some(&key),
            br#"{"phone": "13800138000", "colour": "red"}"#,
        )
        .await;
    r.assert_problem(400);
    assert!(r.body["detail"].as_str().unwrap().contains("colour"));
    let r = api
        .raw(
            Method::PUT,
            "/v1/customers/c1",
            Some(&key),
            br#"{"region": "x"}"#,
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "phone");
    let r = api
        .raw(
            Method::POST,
            "/v1/events",
            Some(&key),
            br#"{"event_id": "e1"} trailing"#,
        )
        .await;
    r.assert_problem(400);
    // Not JSON at all.
    let mut request = Api::request(Method::PUT, "/v1/customers/c1", Some(&key), b"phone=1");
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    api.send(request).await.assert_problem(415);
    // 10 MB.
    let mut huge = br#"{"phone": "13800138000", "attributes": {"blob": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend(br#""}}"#);
    let r = api
        .raw(Method::PUT, "/v1/customers/c1", Some(&key), &huge)
        .await;
    r.assert_problem(413);
    // Also when the length is announced up front (refused before reading).
    let mut request = Api::request(Method::PUT, "/v1/customers/c1", Some(&key), &huge);
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, huge.len().into());
    api.send(request).await.assert_problem(413);
    assert_eq!(api.snapshot(&["c1"]).await, before);
}

pub async fn customer_batches_are_all_or_nothing(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let item =
        |id: &str, phone: &str| json!({"id": id, "phone": phone, "attributes": {"name": "张伟"}});
    let r = api
        .admin(
            Method::POST,
            "/v1/customers:batch",
            Some(json!({"customers": [item("b0", "13800138000"), item("b1", "13900139000")]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["customers"][1]["created"], true);
    let before = api.snapshot(&["b0", "b1", "b2", "b3"]).await;
    // One bad phone: 422 naming items[3].phone, nothing stored.
    let batch = json!({"customers": [item("b0", "13800138001"), item("b1", "13900139000"),
        item("b2", "13700137000"), item("b3", "12")]});
    let r = api
        .admin(Method::POST, "/v1/customers:batch", Some(batch))
        .await;
    r.assert_problem(422);
    assert_eq!(r.field(), "items[3].phone");
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 1);
    assert_eq!(api.snapshot(&["b0", "b1", "b2", "b3"]).await, before);
    // A malformed item: 400 naming it.
    let batch = json!({"customers": [item("b2", "13700137000"), {"id": "b3", "phone": 5}]});
    let r = api
        .admin(Method::POST, "/v1/customers:batch", Some(batch))
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "items[1].phone");
    // 501 items.
    let many: Vec<Value> = (0..501)
        .map(|i| item(&format!("m{i}"), "13800138000"))
        .collect();
    let r = api
        .admin(
            Method::POST,
            "/v1/customers:batch",
            Some(json!({"customers": many})),
        )
        .await;
    r.assert_problem(400);
    assert!(r.body["detail"].as_str().unwrap().contains("500"));
    assert_eq!(
        api.snapshot(&["b0", "b1", "b2", "b3", "m0"]).await[4]["customer"],
        Value::Null
    );
    assert_eq!(api.snapshot(&["b0", "b1", "b2", "b3"]).await, before);
}

pub async fn events_are_idempotent_and_decided_at_ingest(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    let r = api
        .admin(Method::POST, "/v1/events", Some(paid("e1", "c1")))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["duplicate"], false);
    let decision = &r.body["decisions"][0];
    assert_eq!(decision["rule"], "thank-you");
    assert_eq!(decision["outcome"], "send");
    let r = api
        .admin(Method::POST, "/v1/events", Some(paid("e1", "c1")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["duplicate"], true);
    assert_eq!(r.body["decisions"], json!([]));
    let r = api
        .admin(Method::GET, "/v1/customers/c1/messages", None)
        .await;
    assert_eq!(r.status, 200);
    let messages = r.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["rule"], "thank-you");
    assert_eq!(messages[0]["status"], "queued");
    assert_eq!(messages[0]["text"], "【阿克米】王芳您好，订单A-1已付款。");
    // A batch: one new, one repeat.
    let r = api
        .admin(
            Method::POST,
            "/v1/events",
            Some(json!({"events": [paid("e2", "c1"), paid("e1", "c1")]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["events"][0]["duplicate"], false);
    assert_eq!(r.body["events"][1]["duplicate"], true);
    let r = api
        .admin(Method::GET, "/v1/customers/c1/messages", None)
        .await;
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 2);
    // Unknown customer.
    api.admin(Method::POST, "/v1/events", Some(paid("e3", "nobody")))
        .await
        .assert_problem(404);
}

pub async fn event_batches_are_checked_whole(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    let before = api.snapshot(&["c1"]).await;
    let r = api
        .admin(
            Method::POST,
            "/v1/events",
            Some(json!({"events": [paid("e1", "c1"), paid("e2", "nobody"),
                {"event_id": "e3", "customer_id": "c1", "type": ""}]})),
        )
        .await;
    r.assert_problem(404);
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["field"], "items[1].customer_id");
    assert_eq!(errors[1]["field"], "items[2].type");
    let r = api
        .admin(
            Method::POST,
            "/v1/events",
            Some(json!({"events": [paid("e1", "c1"), {"event_id": "e2", "customer_id": "c1"}]})),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "items[1].type");
    let many: Vec<Value> = (0..501).map(|i| paid(&format!("e{i}"), "c1")).collect();
    api.admin(Method::POST, "/v1/events", Some(json!({"events": many})))
        .await
        .assert_problem(400);
    assert_eq!(api.snapshot(&["c1"]).await, before);
}

pub async fn preview_decides_without_writing(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    let before = api.snapshot(&["c1"]).await;
    let body = json!({"rule": "thank-you", "customer_id": "c1",
        "event": {"type": "order.paid", "properties": {"order_id": "A-9"}}});
    let r = api
        .admin(Method::POST, "/v1/preview", Some(body.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["outcome"], "send");
    assert_eq!(r.body["text"], "【阿克米】王芳您好，订单A-9已付款。");
    assert_eq!(r.body["segments"], 1);
    // At 23:00 Shanghai time the transactional window (08–22) is closed: defer until 08:00.
    api.clock
        .set(Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap());
    let r = api.admin(Method::POST, "/v1/preview", Some(body)).await;
    assert_eq!(r.body["outcome"], "defer");
    assert_eq!(r.body["until"], "2026-03-03T00:00:00Z");
    // The care rule's condition does not hold for a customer without plan "trial".
    let r = api
        .admin(
            Method::POST,
            "/v1/preview",
            Some(json!({"rule": "trial-day-7", "customer_id": "c1"})),
        )
        .await;
    assert_eq!(r.body["outcome"], "skip");
    let r = api
        .admin(
            Method::POST,
            "/v1/preview",
            Some(json!({"rule": "nope", "customer_id": "c1"})),
        )
        .await;
    r.assert_problem(422);
    assert_eq!(r.field(), "rule");
    assert_eq!(api.snapshot(&["c1"]).await, before);
}

pub async fn stats_per_rule_and_day(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    api.admin(Method::POST, "/v1/events", Some(paid("e1", "c1")))
        .await;
    let r = api
        .admin(
            Method::GET,
            "/v1/stats?from=2026-03-01&to=2026-03-02&rule=thank-you",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["day"], "2026-03-02");
    assert_eq!(rows[0]["counters"]["queued"], 1);
    let r = api
        .admin(Method::GET, "/v1/stats?rule=trial-day-7", None)
        .await;
    assert_eq!(r.body["rows"], json!([]));
    let r = api.admin(Method::GET, "/v1/stats?from=March", None).await;
    r.assert_problem(400);
    assert_eq!(r.field(), "from");
    api.admin(Method::GET, "/v1/stats?from=2026-03-05&to=2026-03-01", None)
        .await
        .assert_problem(422);
}

pub async fn keys_scopes_and_revocation(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("c1", wang()).await;
    let before = api.snapshot(&["c1", "c2"]).await;
    let r = api.raw(Method::GET, "/v1/customers/c1", None, b"").await;
    r.assert_problem(401);
    let wrong = format!("{}x", &api.admin[..api.admin.len() - 1]);
    api.call(Method::GET, "/v1/customers/c1", &wrong, None)
        .await
        .assert_problem(401);
    api.call(Method::GET, "/v1/customers/c1", "nk_garbage", None)
        .await
        .assert_problem(401);
    let events = api.key(&[Scope::EventsWrite], &[]).await;
    api.call(Method::PUT, "/v1/customers/c2", &events, Some(wang()))
        .await
        .assert_problem(403);
    api.call(Method::GET, "/v1/customers/c1", &events, None)
        .await
        .assert_problem(403);
    let r = api
        .call(Method::POST, "/v1/events", &events, Some(paid("e1", "c1")))
        .await;
    assert_eq!(r.status, 202);
    let read = api.key(&[Scope::Read], &[]).await;
    assert_eq!(
        api.call(Method::GET, "/v1/customers/c1", &read, None)
            .await
            .status,
        200
    );
    api.call(Method::DELETE, "/v1/customers/c1", &read, None)
        .await
        .assert_problem(403);
    // Revocation.
    let (id, _) = read[3..].split_once('_').unwrap();
    let mut stored = api.store.get_api_key(id).await.unwrap().unwrap();
    stored.revoked_at = Some(api.clock.now());
    api.store.put_api_key(&stored).await.unwrap();
    let r = api.call(Method::GET, "/v1/customers/c1", &read, None).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
    let after = api.snapshot(&["c1", "c2"]).await;
    assert_eq!(after[1], before[1]);
}

pub async fn region_keys_see_only_their_regions(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("north-1", wang()).await;
    let mut south = wang();
    south["region"] = json!("south");
    south["phone"] = json!("13900139000");
    api.put_customer("south-1", south.clone()).await;
    let before = api.snapshot(&["north-1", "south-1"]).await;
    let branch = api.key(&[Scope::Admin], &["north"]).await;
    assert_eq!(
        api.call(Method::GET, "/v1/customers/north-1", &branch, None)
            .await
            .status,
        200
    );
    let r = api
        .call(Method::GET, "/v1/customers/south-1", &branch, None)
        .await;
    r.assert_problem(404);
    api.call(Method::GET, "/v1/customers/south-1/messages", &branch, None)
        .await
        .assert_problem(404);
    api.call(Method::DELETE, "/v1/customers/south-1", &branch, None)
        .await
        .assert_problem(404);
    api.call(
        Method::PUT,
        "/v1/customers/s2",
        &branch,
        Some(south.clone()),
    )
    .await
    .assert_problem(403);
    // Overwriting another region's customer (even moving it into ours) is not possible.
    api.call(Method::PUT, "/v1/customers/south-1", &branch, Some(wang()))
        .await
        .assert_problem(404);
    api.call(
        Method::POST,
        "/v1/events",
        &branch,
        Some(paid("e1", "south-1")),
    )
    .await
    .assert_problem(404);
    api.call(
        Method::POST,
        "/v1/preview",
        &branch,
        Some(json!({"rule": "thank-you", "customer_id": "south-1"})),
    )
    .await
    .assert_problem(404);
    api.call(Method::GET, "/v1/stats", &branch, None)
        .await
        .assert_problem(403);
    let r = api
        .call(
            Method::POST,
            "/v1/events",
            &branch,
            Some(paid("e2", "north-1")),
        )
        .await;
    assert_eq!(r.status, 202);
    let after = api.snapshot(&["north-1", "south-1"]).await;
    assert_eq!(after[1], before[1]);
    assert_eq!(api.snapshot(&["s2"]).await[0]["customer"], Value::Null);
}

pub async fn signed_requests(store: Arc<dyn Store>) {
    let secret = "whsec_test";
    let api = Api::with_secret(store, secret).await;
    let body = wang().to_string().into_bytes();
    let now = api.clock.now().timestamp();
    let signed = |signature: Option<String>| {
        let mut request = Api::request(Method::PUT, "/v1/customers/c1", Some(&api.admin), &body);
        if let Some(s) = signature {
            request
                .headers_mut()
                .insert(http::SIGNATURE_HEADER, s.parse().unwrap());
        }
        request
    };
    api.send(signed(None)).await.assert_problem(401);
    let r = api
        .send(signed(Some(sign("other-secret", now, &body))))
        .await;
    r.assert_problem(401);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("invalid signature"));
    let r = api.send(signed(Some(sign(secret, now - 301, &body)))).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("too old"));
    // A signature of another body.
    api.send(signed(Some(sign(secret, now, b"{}"))))
        .await
        .assert_problem(401);
    assert_eq!(api.snapshot(&["c1"]).await[0]["customer"], Value::Null);
    let r = api.send(signed(Some(sign(secret, now - 60, &body)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // GETs are signed over the empty body.
    let mut get = Api::request(Method::GET, "/v1/customers/c1", Some(&api.admin), b"");
    get.headers_mut().insert(
        http::SIGNATURE_HEADER,
        sign(secret, now, b"").parse().unwrap(),
    );
    assert_eq!(api.send(get).await.status, 200);
}

pub async fn request_ids_are_echoed(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let mut request = Api::request(Method::GET, "/v1/customers/none", Some(&api.admin), b"");
    request
        .headers_mut()
        .insert("x-request-id", "trace-123".parse().unwrap());
    let r = api.send(request).await;
    r.assert_problem(404);
    assert_eq!(r.body["request_id"], "trace-123");
    assert_eq!(r.headers["x-request-id"], "trace-123");
}

#[macro_export]
macro_rules! http_api_tests {
    ($fresh:expr) => {
        $crate::http_api_tests!(@each $fresh;
            health_needs_no_key,
            unknown_routes_and_methods_are_problems,
            customers_round_trip,
            semantic_errors_are_422_and_store_nothing,
            malformed_bodies_are_400_and_change_nothing,
            customer_batches_are_all_or_nothing,
            events_are_idempotent_and_decided_at_ingest,
            event_batches_are_checked_whole,
            preview_decides_without_writing,
            stats_per_rule_and_day,
            keys_scopes_and_revocation,
            region_keys_see_only_their_regions,
            signed_requests,
            request_ids_are_echoed);
    };
    (@each $fresh:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store: std::sync::Arc<dyn nudge_core::ports::Store> = $fresh.await;
                suite::$name(store).await;
            }
        )*
    };
}

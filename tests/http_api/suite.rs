//! The HTTP API suite: every check takes a fresh, empty store, so the same suite can run on
//! each `Store` adapter (`http_api_tests!(fresh_store())`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::domain::{CustomerId, Scope, TenantId};
use nudge_core::ports::{Clock, Store};
use nudge_core::rulebook;
use nudge_core::service::Engine;
use nudge_http::{generate_key, sign, AppState, HttpConfig};
use nudge_local::console::ConsolePublisher;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

pub const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
numbers: ["+8613900000001"]
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
    replies: {"1": {answer: "好的，已为您登记。"}}
"#;

/// A second tenant on the same deployment (texts to its number are not acme's).
pub const OTHER_RULES: &str = r#"
tenant: other
brand: 其他
timezone: Asia/Shanghai
phone_region: CN
numbers: ["+8613900000002"]
rules:
  - id: hello
    category: transactional
    trigger: {event: signed.up}
    template: "您好，欢迎。"
"#;

/// The number acme's customers text; Twilio's token and the public URL of the deployment.
pub const ACME_NUMBER: &str = "+8613900000001";
pub const TWILIO_TOKEN: &str = "twilio-auth-token";
pub const TENCENT_TOKEN: &str = "tencent-callback-token";
pub const PUBLIC_URL: &str = "https://sms.example.com/prod";
pub const WEBHOOK_SECRET: &str = "whsec_inbound";

/// Collects what the publisher writes (JSON lines of business events).
pub use captured::Captured as Published;
use nudge_tests::captured;

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
    pub engine: Arc<Engine<dyn Store>>,
    pub clock: Arc<ManualClock>,
    pub admin: String,
    pub published: Published,
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
            ..HttpConfig::default()
        };
        Api::with_config(store, config).await
    }

    /// Two tenants; acme takes Twilio webhooks and signed generic ones, `other` neither.
    pub async fn inbound(store: Arc<dyn Store>) -> Api {
        let config = HttpConfig {
            webhook_secrets: HashMap::from([(tenant(), WEBHOOK_SECRET.to_string())]),
            twilio_auth_tokens: HashMap::from([(tenant(), TWILIO_TOKEN.to_string())]),
            public_base_url: Some(format!("{PUBLIC_URL}/")),
            ..HttpConfig::default()
        };
        let other = rulebook::parse(OTHER_RULES, "other.yaml").unwrap();
        Api::build(store, config, vec![other]).await
    }

    /// acme takes Tencent callbacks with [`TENCENT_TOKEN`]; `other` does not.
    pub async fn tencent(store: Arc<dyn Store>) -> Api {
        let config = HttpConfig {
            tencent_callback_tokens: HashMap::from([(tenant(), TENCENT_TOKEN.to_string())]),
            ..HttpConfig::default()
        };
        let other = rulebook::parse(OTHER_RULES, "other.yaml").unwrap();
        Api::build(store, config, vec![other]).await
    }

    async fn with_config(store: Arc<dyn Store>, config: HttpConfig) -> Api {
        Api::build(store, config, Vec::new()).await
    }

    async fn build(
        store: Arc<dyn Store>,
        config: HttpConfig,
        more: Vec<rulebook::Rulebook>,
    ) -> Api {
        let mut books = vec![rulebook::parse(RULES, "rules.yaml").unwrap()];
        books.extend(more);
        let clock = Arc::new(ManualClock::new(start()));
        let engine = Arc::new(Engine::new(store.clone(), clock.clone(), books));
        let published = Published::default();
        let publisher = Arc::new(ConsolePublisher::new(Box::new(published.clone())));
        let router = nudge_http::router(AppState::new(engine.clone(), config, publisher));
        let mut api = Api {
            router,
            store,
            engine,
            clock,
            admin: String::new(),
            published,
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
        } else if headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("json")
        {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            Value::String(String::from_utf8(bytes.to_vec()).unwrap())
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
    // An event time past the documented bounds (more than 400 days ago, more than 5 minutes
    // ahead) is refused, however far out: it would trigger texts about nothing real.
    api.put_customer("c2", wang()).await;
    let before = api.snapshot(&["c2"]).await;
    let now = api.clock.now();
    let days_ago = |d: i64| (now - chrono::TimeDelta::days(d)).to_rfc3339();
    for (i, occurred_at) in [
        "0000-01-01T00:00:00Z".to_string(),
        "-262143-01-01T00:00:00Z".to_string(),
        "+262142-12-31T23:59:59Z".to_string(),
        days_ago(401),
        (now + chrono::TimeDelta::seconds(301)).to_rfc3339(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut event = paid(&format!("old-{i}"), "c2");
        event["occurred_at"] = json!(occurred_at);
        let r = api.admin(Method::POST, "/v1/events", Some(event)).await;
        assert!(
            r.status == 422 || r.status == 400,
            "{occurred_at}: {}",
            r.body
        );
        assert_eq!(r.field(), "occurred_at", "{occurred_at}");
    }
    assert_eq!(api.snapshot(&["c2"]).await, before);
    let mut recent = paid("recent", "c2");
    recent["occurred_at"] = json!(days_ago(399));
    let r = api.admin(Method::POST, "/v1/events", Some(recent)).await;
    assert_eq!(r.status, 202, "{}", r.body);
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
    // A key given twice, in a single body, a nested map or an item of a batch, is refused
    // with its path: neither value is a safe guess.
    let twice: [(Method, &str, &[u8], &str); 5] = [
        (
            Method::PUT,
            "/v1/customers/c1",
            br#"{"phone": "13800138000", "phone": "13900139000"}"#,
            "phone",
        ),
        (
            Method::PUT,
            "/v1/customers/c1",
            br#"{"phone": "13800138000", "attributes": {"plan": "trial", "plan": "paid"}}"#,
            "attributes.plan",
        ),
        (
            Method::POST,
            "/v1/events",
            br#"{"events": [{"event_id": "e1", "customer_id": "c1", "type": "order.paid"},
                {"event_id": "e2", "customer_id": "c1", "type": "order.paid", "type": "x"}]}"#,
            "events[1].type",
        ),
        (
            Method::POST,
            "/v1/events",
            br#"{"event_id": "e3", "customer_id": "c1", "type": "order.paid",
                "properties": {"order_id": "A-1", "order_id": "A-2"}}"#,
            "properties.order_id",
        ),
        (
            Method::POST,
            "/v1/customers:batch",
            br#"{"customers": [{"id": "c1", "phone": "13800138000", "id": "c9"}]}"#,
            "customers[0].id",
        ),
    ];
    for (method, path, body, field) in twice {
        let r = api.raw(method, path, Some(&key), body).await;
        r.assert_problem(400);
        assert_eq!(r.body["type"], "https://nudge.dev/problems/duplicate-key");
        assert_eq!(r.field(), field, "{}", String::from_utf8_lossy(body));
    }
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
    // The right key with its last character changed (to one it is not).
    let last = if api.admin.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &api.admin[..api.admin.len() - 1]);
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

/// A regional key's event id never collides with another region's: the same id is a new
/// event of its own customer (no duplicate, nothing learnt of the other region), while a
/// customer's id reused for another type of event is a 409 naming `event_id`, alone or in a
/// batch, and stores nothing.
pub async fn event_ids_are_per_customer_and_never_cross_regions(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.put_customer("north-1", wang()).await;
    let mut south = wang();
    south["region"] = json!("south");
    south["phone"] = json!("13900139000");
    api.put_customer("south-1", south).await;
    let south_key = api.key(&[Scope::EventsWrite], &["south"]).await;
    let north_key = api.key(&[Scope::EventsWrite], &["north"]).await;
    let r = api
        .call(
            Method::POST,
            "/v1/events",
            &south_key,
            Some(paid("secret-ev", "south-1")),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = api
        .call(
            Method::POST,
            "/v1/events",
            &north_key,
            Some(paid("secret-ev", "north-1")),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["duplicate"], false);
    let r = api
        .call(
            Method::POST,
            "/v1/events",
            &north_key,
            Some(paid("secret-ev", "north-1")),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["duplicate"], true);
    let before = api.snapshot(&["north-1", "south-1"]).await;
    let refund =
        json!({"event_id": "secret-ev", "customer_id": "north-1", "type": "order.refunded"});
    let r = api
        .call(Method::POST, "/v1/events", &north_key, Some(refund.clone()))
        .await;
    r.assert_problem(409);
    assert_eq!(r.body["type"], "https://nudge.dev/problems/id-reused");
    assert_eq!(r.body["field"], "event_id");
    assert!(
        r.body["detail"].as_str().unwrap().contains("order.paid"),
        "{}",
        r.body
    );
    // In a batch: against the stored event, and between two items of the batch.
    let batch = json!({"events": [paid("fresh-1", "north-1"), refund]});
    let r = api
        .call(Method::POST, "/v1/events", &north_key, Some(batch))
        .await;
    r.assert_problem(409);
    assert_eq!(r.body["errors"][0]["field"], "items[1].event_id");
    let refund_of_fresh =
        json!({"event_id": "fresh-2", "customer_id": "north-1", "type": "order.refunded"});
    let batch = json!({"events": [paid("fresh-2", "north-1"), refund_of_fresh]});
    let r = api
        .call(Method::POST, "/v1/events", &north_key, Some(batch))
        .await;
    r.assert_problem(409);
    assert_eq!(r.body["errors"][0]["field"], "items[1].event_id");
    assert_eq!(api.snapshot(&["north-1", "south-1"]).await, before);
    // The same id for two customers in one batch is two events.
    let mut other = wang();
    other["phone"] = json!("13700137000");
    api.put_customer("north-2", other).await;
    let batch = json!({"events": [paid("same", "north-1"), paid("same", "north-2")]});
    let r = api
        .call(Method::POST, "/v1/events", &north_key, Some(batch))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["events"][1]["duplicate"], false);
}

/// `X-Nudge-Signature` for `method path` with `body`, signed at `t`.
pub fn signature_of(secret: &str, t: i64, method: &str, path: &str, body: &[u8]) -> String {
    let request = nudge_http::SignedRequest {
        method,
        path_and_query: path,
        body,
    };
    sign(secret, t, request)
}

pub async fn signed_requests(store: Arc<dyn Store>) {
    let secret = "whsec_test";
    let api = Api::with_secret(store, secret).await;
    let body = wang().to_string().into_bytes();
    let now = api.clock.now().timestamp();
    let request = |method: Method, path: &str, body: &[u8], signature: Option<String>| {
        let mut request = Api::request(method, path, Some(&api.admin), body);
        if let Some(s) = signature {
            request
                .headers_mut()
                .insert(nudge_http::SIGNATURE_HEADER, s.parse().unwrap());
        }
        request
    };
    let put =
        |signature: Option<String>| request(Method::PUT, "/v1/customers/c1", &body, signature);
    api.send(put(None)).await.assert_problem(401);
    let r = api
        .send(put(Some(signature_of(
            "other-secret",
            now,
            "PUT",
            "/v1/customers/c1",
            &body,
        ))))
        .await;
    r.assert_problem(401);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("invalid signature"));
    let r = api
        .send(put(Some(signature_of(
            secret,
            now - 301,
            "PUT",
            "/v1/customers/c1",
            &body,
        ))))
        .await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("too old"));
    // A signature of another body, another customer's path, another method.
    for (method, path, signed_body) in [
        ("PUT", "/v1/customers/c1", &b"{}"[..]),
        ("PUT", "/v1/customers/c2", &body[..]),
        ("POST", "/v1/customers/c1", &body[..]),
    ] {
        api.send(put(Some(signature_of(
            secret,
            now,
            method,
            path,
            signed_body,
        ))))
        .await
        .assert_problem(401);
    }
    // The first scheme, over the body alone, is refused with how to sign now.
    let r = api.send(put(Some(format!("t={now},v1=00ff")))).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("v2"));
    assert_eq!(api.snapshot(&["c1"]).await[0]["customer"], Value::Null);
    let good = signature_of(secret, now - 60, "PUT", "/v1/customers/c1", &body);
    let r = api.send(put(Some(good.clone()))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The same signed request again is a replay.
    let r = api.send(put(Some(good))).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("used before"));
    // A GET is signed over the empty body; its signature is no DELETE's.
    let get_signature = signature_of(secret, now, "GET", "/v1/customers/c1", b"");
    let r = api
        .send(request(
            Method::DELETE,
            "/v1/customers/c1",
            b"",
            Some(get_signature.clone()),
        ))
        .await;
    r.assert_problem(401);
    let r = api
        .send(request(
            Method::GET,
            "/v1/customers/c1",
            b"",
            Some(get_signature),
        ))
        .await;
    assert_eq!(r.status, 200);
    // The query is signed too.
    let stats_signature = signature_of(secret, now, "GET", "/v1/stats?from=2026-03-01", b"");
    let r = api
        .send(request(
            Method::GET,
            "/v1/stats?from=2025-03-01",
            b"",
            Some(stats_signature.clone()),
        ))
        .await;
    r.assert_problem(401);
    let r = api
        .send(request(
            Method::GET,
            "/v1/stats?from=2026-03-01",
            b"",
            Some(stats_signature),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        api.snapshot(&["c1"]).await[0]["customer"]["phone"],
        "+8613800138000"
    );
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

// ---------------------------------------------------------------------------------------------
// Inbound replies and the reply report.

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What Twilio posts for one inbound SMS to acme's number (with some of its other fields).
pub fn twilio_params(from: &str, body: &str, sid: &str) -> Vec<(String, String)> {
    pairs(&[
        ("ToCountry", "CN"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", ACME_NUMBER),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", from),
        ("ApiVersion", "2010-04-01"),
    ])
}

pub fn twilio_url() -> String {
    format!("{PUBLIC_URL}/v1/inbound/twilio")
}

/// A Twilio webhook request carrying `params`, with `signature` as X-Twilio-Signature.
pub fn twilio_request(params: &[(String, String)], signature: Option<&str>) -> Request<Body> {
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/v1/inbound/twilio")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        builder = builder.header(nudge_http::TWILIO_SIGNATURE_HEADER, signature);
    }
    builder.body(Body::from(form)).unwrap()
}

pub fn signed_twilio(params: &[(String, String)]) -> Request<Body> {
    let signature = nudge_http::twilio_signature(TWILIO_TOKEN, &twilio_url(), params);
    twilio_request(params, Some(&signature))
}

/// A generic inbound request with the raw `body`, signed at `timestamp` with `secret` (None:
/// unsigned).
pub fn generic_request(body: &[u8], signed: Option<(&str, i64)>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/v1/inbound/generic")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some((secret, timestamp)) = signed {
        let signature = signature_of(secret, timestamp, "POST", "/v1/inbound/generic", body);
        builder = builder.header(nudge_http::SIGNATURE_HEADER, signature);
    }
    builder.body(Body::from(body.to_vec())).unwrap()
}

impl Api {
    pub async fn seed_customer(&self, id: &str, phone: &str) {
        let input: nudge_core::service::CustomerInput = serde_json::from_value(
            json!({"id": id, "phone": phone, "attributes": {"name": "王芳"}}),
        )
        .unwrap();
        self.engine.upsert_customer(&tenant(), input).await.unwrap();
    }

    pub async fn generic(&self, body: Value) -> Reply {
        let bytes = body.to_string().into_bytes();
        let now = self.clock.now().timestamp();
        self.send(generic_request(&bytes, Some((WEBHOOK_SECRET, now))))
            .await
    }

    /// acme's free-text replies of today, most frequent first.
    pub async fn texts_today(&self) -> Vec<nudge_core::ports::ReplyTextCount> {
        let day = self.clock.now().date_naive();
        self.store
            .top_reply_texts(&tenant(), day, day, 10)
            .await
            .unwrap()
    }

    /// Replies counted for acme today (all rules), and messages queued for the customer.
    pub async fn reply_effects(&self, customer: &str) -> (i64, usize) {
        let day = self.clock.now().date_naive();
        let replied = self
            .store
            .stats(&tenant(), day, day)
            .await
            .unwrap()
            .iter()
            .map(|r| r.counters.get("replied").copied().unwrap_or(0))
            .sum();
        let messages = self
            .store
            .customer_messages(&tenant(), &CustomerId::parse(customer).unwrap(), 100)
            .await
            .unwrap()
            .len();
        (replied, messages)
    }
}

pub async fn twilio_replies_need_a_valid_signature(store: Arc<dyn Store>) {
    let api = Api::inbound(store).await;
    api.seed_customer("c1", "13800138000").await;
    let phone = nudge_core::domain::PhoneNumber::parse("+8613800138000", None).unwrap();
    let params = twilio_params("+8613800138000", "TD", "SM0001");
    let no_effect = |api: &Api| {
        let store = api.store.clone();
        let phone = phone.clone();
        async move {
            assert!(!store.is_suppressed(&tenant(), &phone).await.unwrap());
        }
    };
    // Missing, wrong token, wrong URL, tampered parameter, added parameter, garbage.
    let r = api.send(twilio_request(&params, None)).await;
    r.assert_problem(403);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("X-Twilio-Signature"));
    let other_token = nudge_http::twilio_signature("another-token", &twilio_url(), &params);
    api.send(twilio_request(&params, Some(&other_token)))
        .await
        .assert_problem(403);
    let other_url = nudge_http::twilio_signature(
        TWILIO_TOKEN,
        "http://sms.example.com/prod/v1/inbound/twilio",
        &params,
    );
    api.send(twilio_request(&params, Some(&other_url)))
        .await
        .assert_problem(403);
    let signature = nudge_http::twilio_signature(TWILIO_TOKEN, &twilio_url(), &params);
    let mut tampered = params.clone();
    tampered[5].1 = "STOP".into();
    api.send(twilio_request(&tampered, Some(&signature)))
        .await
        .assert_problem(403);
    let mut added = params.clone();
    added.push(("Extra".into(), "1".into()));
    api.send(twilio_request(&added, Some(&signature)))
        .await
        .assert_problem(403);
    api.send(twilio_request(&params, Some("bm90IGl0")))
        .await
        .assert_problem(403);
    no_effect(&api).await;
    assert_eq!(api.reply_effects("c1").await, (0, 0));
    assert!(api.published.detail_types().is_empty());

    // Signed: 200 with empty TwiML, the number is suppressed and one confirmation queued.
    let r = api.send(signed_twilio(&params)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/xml");
    assert!(
        r.body.as_str().unwrap().ends_with("<Response/>"),
        "{}",
        r.body
    );
    assert!(api.store.is_suppressed(&tenant(), &phone).await.unwrap());
    assert_eq!(api.reply_effects("c1").await, (1, 1));
    assert_eq!(api.published.detail_types(), vec!["customer.opted_out"]);
    // Twilio delivers again: no second effect.
    let r = api.send(signed_twilio(&params)).await;
    assert_eq!(r.status, 200);
    assert_eq!(api.reply_effects("c1").await, (1, 1));
    assert_eq!(api.published.detail_types().len(), 1);
}

pub async fn twilio_requests_are_checked_before_acting(store: Arc<dyn Store>) {
    let api = Api::inbound(store).await;
    api.seed_customer("c1", "13800138000").await;
    // Not a form.
    let mut request = signed_twilio(&twilio_params("+8613800138000", "HI", "SM1"));
    request
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    api.send(request).await.assert_problem(415);
    // No To: the tenant (and its token) cannot be known.
    let mut params = twilio_params("+8613800138000", "HI", "SM1");
    params.retain(|(k, _)| k != "To");
    let r = api.send(signed_twilio(&params)).await;
    r.assert_problem(400);
    assert_eq!(r.field(), "To");
    // A number no tenant owns; a tenant without a Twilio token.
    let mut params = twilio_params("+8613800138000", "HI", "SM1");
    params[6].1 = "+8613900000009".into();
    api.send(signed_twilio(&params)).await.assert_problem(404);
    params[6].1 = "+8613900000002".into();
    api.send(signed_twilio(&params)).await.assert_problem(403);
    // Signed but without MessageSid, or with an absurd one.
    let mut params = twilio_params("+8613800138000", "HI", "SM1");
    params.retain(|(k, _)| k != "MessageSid");
    let r = api.send(signed_twilio(&params)).await;
    r.assert_problem(400);
    assert_eq!(r.field(), "MessageSid");
    let long = "S".repeat(300);
    let r = api
        .send(signed_twilio(&twilio_params("+8613800138000", "HI", &long)))
        .await;
    r.assert_problem(422);
    assert_eq!(r.field(), "MessageSid");
    assert_eq!(api.reply_effects("c1").await, (0, 0));
    // An unparseable sender and a 5,000-character body are recorded as rejected: 200, no act.
    for (i, (from, body)) in [
        ("not a phone", "TD"),
        ("+8613800138000", &*"长".repeat(5000)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = api
            .send(signed_twilio(&twilio_params(
                from,
                body,
                &format!("SMbad{i}"),
            )))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(api.reply_effects("c1").await, (0, 0));
}

pub async fn generic_replies_are_signed_with_the_webhook_secret(store: Arc<dyn Store>) {
    let api = Api::inbound(store).await;
    api.seed_customer("c1", "13800138000").await;
    let body = json!({"from": "+8613800138000", "to": ACME_NUMBER, "body": "几点发货？",
        "message_id": "gw-1"});
    let bytes = body.to_string().into_bytes();
    let now = api.clock.now().timestamp();
    // Unsigned, wrong secret, too old, signature of another body: 401, nothing recorded.
    api.send(generic_request(&bytes, None))
        .await
        .assert_problem(401);
    api.send(generic_request(&bytes, Some(("other", now))))
        .await
        .assert_problem(401);
    let r = api
        .send(generic_request(&bytes, Some((WEBHOOK_SECRET, now - 301))))
        .await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("too old"));
    let mut request = generic_request(b"{}", Some((WEBHOOK_SECRET, now)));
    *request.body_mut() = Body::from(bytes.clone());
    api.send(request).await.assert_problem(401);
    assert_eq!(api.reply_effects("c1").await, (0, 0));

    // Signed: the reply report; a bearer key is not needed.
    let r = api.generic(body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["action"], "free_text");
    assert_eq!(r.body["customer_id"], "c1");
    assert_eq!(r.body["normalized"], "几点发货");
    assert_eq!(api.published.detail_types(), vec!["reply.received"]);
    let r = api.generic(body).await;
    assert_eq!(r.body["action"], "duplicate");
    assert_eq!(api.reply_effects("c1").await, (1, 0));
    let top = api.texts_today().await;
    assert_eq!(top.len(), 1);
    assert_eq!((top[0].text.as_str(), top[0].count), ("几点发货", 1));
}

pub async fn generic_bad_input_is_a_clear_4xx_or_rejected(store: Arc<dyn Store>) {
    let api = Api::inbound(store).await;
    api.seed_customer("c1", "13800138000").await;
    let now = api.clock.now().timestamp();
    let base = |id: &str| json!({"from": "+8613800138000", "to": ACME_NUMBER, "body": "hi", "message_id": id});
    // An unknown field, named.
    let mut extra = base("g1");
    extra["channel"] = json!("sms");
    let r = api.generic(extra).await;
    r.assert_problem(400);
    assert_eq!(r.field(), "channel");
    // A missing field, named; `to` missing or owned by nobody.
    let mut missing = base("g1");
    missing.as_object_mut().unwrap().remove("body");
    let r = api.generic(missing).await;
    r.assert_problem(400);
    assert_eq!(r.field(), "body");
    let mut no_to = base("g1");
    no_to.as_object_mut().unwrap().remove("to");
    assert_eq!(api.generic(no_to).await.field(), "to");
    let mut nobody = base("g1");
    nobody["to"] = json!("+8613900000009");
    api.generic(nobody).await.assert_problem(404);
    // The other tenant has no webhook secret: its number takes no generic webhooks.
    let mut other = base("g1");
    other["to"] = json!("+8613900000002");
    api.generic(other).await.assert_problem(403);
    // Not UTF-8; not JSON.
    let mut bytes = base("g1").to_string().into_bytes();
    let at = bytes.len() - 5;
    bytes[at] = 0xFF;
    api.send(generic_request(&bytes, Some((WEBHOOK_SECRET, now))))
        .await
        .assert_problem(400);
    let mut request = generic_request(b"from=1", Some((WEBHOOK_SECRET, now)));
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    api.send(request).await.assert_problem(415);
    // An absurd message id: 422 naming it.
    let r = api.generic(base(&"m".repeat(300))).await;
    r.assert_problem(422);
    assert_eq!(r.field(), "message_id");
    let r = api.generic(base("bad\u{7}id")).await;
    assert_eq!(r.field(), "message_id");
    assert_eq!(api.reply_effects("c1").await, (0, 0));
    // Unparseable sender, 5,000 characters: recorded as rejected, never acted on.
    let mut bad_from = base("g2");
    bad_from["from"] = json!("call me maybe");
    let r = api.generic(bad_from).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["action"].as_str(), r.body["reason"].as_str()),
        (Some("rejected"), Some("invalid_sender"))
    );
    let mut long = base("g3");
    long["body"] = json!("x".repeat(5000));
    let r = api.generic(long).await;
    assert_eq!(r.body["reason"], "body_too_long");
    assert_eq!(api.reply_effects("c1").await, (0, 0));
    // Control characters are dropped before matching and storing.
    let mut controls = base("g4");
    controls["body"] = json!("\u{0}\u{7}你好\u{1b}\u{200b}");
    let r = api.generic(controls).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["normalized"], "你好");
    let top = api.texts_today().await;
    assert_eq!(top[0].text, "你好");
    assert_eq!(api.reply_effects("c1").await, (1, 0));
}

pub async fn replies_report_per_rule(store: Arc<dyn Store>) {
    let api = Api::inbound(store).await;
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let add = |d: u32, rule: &'static str, counters: &[(&str, i64)]| {
        let store = api.store.clone();
        let counters: nudge_core::ports::Counters =
            counters.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        async move {
            store
                .add_stats(&tenant(), day(d), rule, &counters)
                .await
                .unwrap();
        }
    };
    add(
        1,
        "thank-you",
        &[
            ("sent", 10),
            ("replied", 4),
            ("opted_out", 1),
            ("keyword_1", 2),
        ],
    )
    .await;
    add(
        2,
        "thank-you",
        &[
            ("sent", 10),
            ("replied", 2),
            ("opted_out", 1),
            ("free_text", 1),
        ],
    )
    .await;
    add(2, "trial-day-7", &[("skipped_cap", 3)]).await;
    add(2, "replies", &[("replied", 3), ("free_text", 3)]).await;
    add(2, "reply.opt_out", &[("sent", 2)]).await;
    add(2, "retired-rule", &[("sent", 5)]).await;
    add(9, "thank-you", &[("sent", 100)]).await;
    for (d, text) in [
        (1, "几点发货"),
        (2, "几点发货"),
        (2, "谢谢"),
        (2, "在吗"),
        (9, "退款"),
    ] {
        api.store
            .add_reply_text(&tenant(), day(d), text)
            .await
            .unwrap();
    }
    let reader = api.key(&[Scope::Read], &[]).await;
    // Each request is signed a second earlier than the one before: the same query twice
    // would otherwise be a replay.
    let age = std::cell::Cell::new(0);
    let get = |query: &str| {
        let path = format!("/v1/reports/replies{query}");
        let mut request = Api::request(Method::GET, &path, Some(&reader), b"");
        age.set(age.get() + 1);
        let t = api.clock.now().timestamp() - age.get();
        request.headers_mut().insert(
            nudge_http::SIGNATURE_HEADER,
            signature_of(WEBHOOK_SECRET, t, "GET", &path, b"")
                .parse()
                .unwrap(),
        );
        api.send(request)
    };
    let r = get("?from=2026-03-01&to=2026-03-02&limit=2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(
        (b["from"].as_str(), b["to"].as_str()),
        (Some("2026-03-01"), Some("2026-03-02"))
    );
    let rules: Vec<&str> = b["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec!["trial-day-7", "thank-you", "replies", "retired-rule"]
    );
    let thanks = &b["rules"][1];
    assert_eq!(
        (
            &thanks["sent"],
            &thanks["replied"],
            &thanks["opted_out"],
            &thanks["free_text"]
        ),
        (&json!(20), &json!(6), &json!(2), &json!(1))
    );
    assert_eq!(thanks["opt_out_rate"], 0.1);
    assert_eq!(thanks["keywords"], json!({"1": 2}));
    assert_eq!(b["rules"][0]["opt_out_rate"], Value::Null);
    assert_eq!(b["rules"][2]["replied"], 3);
    assert_eq!(b["total"]["sent"], 25);
    assert_eq!(b["total"]["replied"], 9);
    assert_eq!(b["total"]["opt_out_rate"], 0.08);
    assert_eq!(b["keywords"], json!({"1": 2}));
    assert_eq!(
        b["top_free_text"],
        json!([{"text": "几点发货", "count": 2}, {"text": "在吗", "count": 1}])
    );
    // Default range: the 7 days ending today (2026-03-02).
    let r = get("").await;
    assert_eq!(r.body["from"], "2026-02-24");
    assert_eq!(r.body["top_free_text"].as_array().unwrap().len(), 3);
    // Bad input names the field.
    for (query, field) in [
        ("?from=2026-02-30", "from"),
        ("?to=yesterday", "to"),
        ("?limit=0", "limit"),
        ("?limit=many", "limit"),
        ("?limit=101", "limit"),
    ] {
        let r = get(query).await;
        r.assert_problem(400);
        assert_eq!(r.field(), field, "{query}");
    }
    get("?from=2026-03-05&to=2026-03-01")
        .await
        .assert_problem(422);
    get("?rule=x").await.assert_problem(400);
    // Tenant-wide: a region key and a key without `read` are refused.
    let regional = api.key(&[Scope::Read], &["north"]).await;
    let now = api.clock.now().timestamp();
    let mut request = Api::request(Method::GET, "/v1/reports/replies", Some(&regional), b"");
    request.headers_mut().insert(
        nudge_http::SIGNATURE_HEADER,
        signature_of(WEBHOOK_SECRET, now, "GET", "/v1/reports/replies", b"")
            .parse()
            .unwrap(),
    );
    api.send(request).await.assert_problem(403);
    let writer = api.key(&[Scope::CustomersWrite], &[]).await;
    api.raw(Method::GET, "/v1/reports/replies", Some(&writer), b"")
        .await
        .assert_problem(403);
}

/// The KPI report reads the counters of every text (queued, sent, receipts, replies,
/// conversions) and of every holdout decision; the lift is checked against values computed
/// by hand: 120 of 1000 texted converted against 80 of 1000 held out is +4.0 points,
/// 95 % interval ±1.96·√(0.12·0.88/1000 + 0.08·0.92/1000) = ±2.62 points.
pub async fn kpis_per_rule_with_the_holdout_lift(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    for (d, queued, converted, held_out, held_out_converted) in
        [(1, 600, 70, 500, 40), (2, 400, 50, 500, 40)]
    {
        let counters: nudge_core::ports::Counters = [
            ("queued", queued),
            ("sent", queued),
            ("delivered", queued - 20),
            ("undelivered", 20),
            ("replied", 50),
            ("opted_out", 2),
            ("converted", converted),
            ("conversion_value_milli", converted * 49_500),
            ("skipped_holdout", held_out),
            ("held_out_converted", held_out_converted),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        api.store
            .add_stats(&tenant(), day(d), "thank-you", &counters)
            .await
            .unwrap();
    }
    let r = api
        .admin(
            Method::GET,
            "/v1/reports/kpis?from=2026-03-01&to=2026-03-02&rule=thank-you",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rules = r.body["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    let rule = &rules[0];
    assert_eq!(rule["rule"], "thank-you");
    let total = rule; // a rule's totals sit beside its id
    assert_eq!(total["texted"], 1000);
    assert_eq!(total["delivered"], 960);
    assert_eq!(total["delivery_rate"], 0.96);
    assert_eq!(total["response_rate"], 0.1);
    assert_eq!(total["opt_out_rate"], 0.004);
    assert_eq!(total["converted"], 120);
    assert_eq!(total["conversion_rate"], 0.12);
    assert_eq!(total["conversion_value"], 5940.0);
    assert_eq!(total["held_out"], 1000);
    assert_eq!(total["held_out_conversion_rate"], 0.08);
    let lift = &rule["lift"];
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 5e-5;
    assert!(close(&lift["absolute"], 0.04), "{lift}");
    assert!(close(&lift["absolute_ci"]["low"], 0.0138), "{lift}");
    assert!(close(&lift["absolute_ci"]["high"], 0.0662), "{lift}");
    assert!(close(&lift["relative"], 0.5), "{lift}");
    assert_eq!(lift["verdict"]["status"], "significant", "{lift}");
    let days = rule["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["day"], "2026-03-01");
    assert_eq!(days[0]["texted"], 600);
    assert_eq!(r.body["total"]["converted"], 120);

    // Every rule of the rulebook is listed, with or without counts.
    let r = api
        .admin(
            Method::GET,
            "/v1/reports/kpis?from=2026-03-01&to=2026-03-02",
            None,
        )
        .await;
    let listed: Vec<&str> = r.body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["trial-day-7", "thank-you"]);
    assert_eq!(r.body["rules"][0]["lift"], Value::Null);

    // The tracking table: one row per rule and day, then the rule's range row with the lift.
    let r = api
        .admin(
            Method::GET,
            "/v1/reports/kpis.csv?from=2026-03-01&to=2026-03-02&rule=thank-you",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"nudge-kpis-acme-2026-03-01-2026-03-02.csv\""
    );
    let csv = r.body.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], nudge_core::service::kpis::CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + 3 + 3, "{csv}");
    assert!(
        lines[1].starts_with("thank-you,2026-03-01,600,600,580,20,"),
        "{csv}"
    );
    let range: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(
        range[..4],
        ["thank-you", "2026-03-01..2026-03-02", "1000", "1000"]
    );
    assert_eq!(range[11], "120");
    assert_eq!(range[18], "0.040000");

    // Bad input names its field; a key limited to regions cannot read tenant-wide counts.
    let r = api
        .admin(Method::GET, "/v1/reports/kpis?to=soon", None)
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "to");
    let r = api
        .admin(Method::GET, "/v1/reports/kpis?rule=nope", None)
        .await;
    r.assert_problem(422);
    assert_eq!(r.field(), "rule");
    api.admin(Method::GET, "/v1/reports/kpis.csv?rule=nope", None)
        .await
        .assert_problem(422);
    let north = api.key(&[Scope::Admin], &["north"]).await;
    api.call(Method::GET, "/v1/reports/kpis", &north, None)
        .await
        .assert_problem(403);
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
            event_ids_are_per_customer_and_never_cross_regions,
            signed_requests,
            request_ids_are_echoed,
            twilio_replies_need_a_valid_signature,
            twilio_requests_are_checked_before_acting,
            generic_replies_are_signed_with_the_webhook_secret,
            generic_bad_input_is_a_clear_4xx_or_rejected,
            replies_report_per_rule,
            kpis_per_rule_with_the_holdout_lift);
    };
    (@each $fresh:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store: std::sync::Arc<dyn nudge_core::ports::Store> = $fresh.await;
                $crate::suite::$name(store).await;
            }
        )*
    };
}

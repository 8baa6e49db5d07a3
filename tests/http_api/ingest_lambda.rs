//! The ingest function end to end, minus the runtime: API Gateway HTTP API events (payload
//! format 2.0, the sample files in `infra/events/apigw-*.json` that `sam local invoke` uses)
//! go through `lambda_http`'s adapter — exactly what `lambda_http::run` does with each event —
//! into the router, on the SQLite store and on DynamoDB (moto).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use chrono::{DateTime, TimeZone, Utc};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use nudge_core::clock::ManualClock;
use nudge_core::domain::{ApiKey, CustomerId, Scope, TenantId};
use nudge_core::ports::Store;
use nudge_core::rulebook;
use nudge_core::service::{CustomerInput, Engine};
use nudge_dynamodb::{create_table, DynamoStore};
use nudge_http::keys::hash_secret;
use nudge_http::{router, AppState, HttpConfig};
use nudge_ingest::api_gateway_app;
use nudge_local::console::ConsolePublisher;
use nudge_sqlite::SqliteStore;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::Arc;

const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
attributes: [name]
policy:
  window: {start: "09:00", end: "20:00"}
  transactional: {window: {start: "08:00", end: "22:00"}}
rules:
  - id: thank-you
    category: transactional
    trigger: {event: order.paid}
    template: "{{name}}您好，订单{{event.properties.order_id}}已付款。"
"#;

/// The key in the sample events' `Authorization` header.
const SAMPLE_KEY_ID: &str = "samplekey001";
const SAMPLE_KEY_SECRET: &str = "SampleSecretForSamLocalInvoke00000000000";

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn c1() -> CustomerId {
    CustomerId::parse("c1").unwrap()
}

/// Thursday 2026-03-12 11:00 in Shanghai (the sample events' time): inside the send window.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 12, 3, 0, 0).unwrap()
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra/events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The API over `store` with the sample key stored and customer c1 created.
async fn app(store: Arc<dyn Store>) -> nudge_ingest::ApiGatewayApp {
    let clock = Arc::new(ManualClock::new(now()));
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let engine = Arc::new(Engine::new(store.clone(), clock, vec![book]));
    store
        .put_api_key(&ApiKey {
            id: SAMPLE_KEY_ID.into(),
            secret_sha256: hash_secret(SAMPLE_KEY_SECRET),
            tenant: tenant(),
            scopes: vec![Scope::Admin],
            regions: vec![],
            label: Some("sample events".into()),
            created_at: now(),
            revoked_at: None,
        })
        .await
        .unwrap();
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!("王芳"));
    let input = CustomerInput {
        id: "c1".into(),
        phone: "+8613800138000".into(),
        region: None,
        timezone: None,
        locale: None,
        attributes,
    };
    engine.upsert_customer(&tenant(), input).await.unwrap();
    let publisher = Arc::new(ConsolePublisher::new(Box::new(std::io::sink())));
    api_gateway_app(router(AppState::new(
        engine,
        HttpConfig::default(),
        publisher,
    )))
}

/// One API Gateway event through the adapter; the response as API Gateway receives it.
async fn invoke(app: &nudge_ingest::ApiGatewayApp, event: Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event).unwrap();
    let mut adapter = Adapter::from(app.clone());
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(response).unwrap()
}

/// The status, the content type and the JSON body of an API Gateway v2 response.
fn parts(response: &Value) -> (u64, String, Value) {
    assert_eq!(
        response["isBase64Encoded"], false,
        "JSON goes back as text: {response}"
    );
    let status = response["statusCode"].as_u64().unwrap();
    let content_type = response["headers"]["content-type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (status, content_type, body)
}

async fn events_of(store: &dyn Store) -> Vec<String> {
    store
        .customer_events(&tenant(), &c1(), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id.as_str().to_owned())
        .collect()
}

async fn api_gateway_flow(store: Arc<dyn Store>) {
    let app = app(store.clone()).await;

    // POST /v1/events: stored, and the transactional rule decided right away.
    let (status, content_type, body) = parts(&invoke(&app, fixture("apigw-post-event.json")).await);
    assert_eq!(status, 202, "{body}");
    assert_eq!(content_type, "application/json");
    assert_eq!(body["event_id"], "ord-1001-paid");
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["decisions"][0]["rule"], "thank-you", "{body}");
    assert_eq!(body["decisions"][0]["outcome"], "send", "{body}");
    assert_eq!(events_of(store.as_ref()).await, ["ord-1001-paid"]);
    let messages = store.customer_messages(&tenant(), &c1(), 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].text.contains("订单1001已付款"),
        "{}",
        messages[0].text
    );

    // The same event again (API Gateway or the client retried): 200, nothing new.
    let (status, _, body) = parts(&invoke(&app, fixture("apigw-post-event.json")).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], true);
    assert_eq!(events_of(store.as_ref()).await.len(), 1);

    // A base64-encoded body (isBase64Encoded: true) with non-ASCII text in it.
    let event = fixture("apigw-post-event-base64.json");
    assert_eq!(event["isBase64Encoded"], true);
    let (status, _, body) = parts(&invoke(&app, event).await);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["event_id"], "ord-1002-paid");
    let stored = store.customer_events(&tenant(), &c1(), 10).await.unwrap();
    let gift = stored
        .iter()
        .find(|e| e.event_id.as_str() == "ord-1002-paid")
        .unwrap();
    assert_eq!(gift.properties["note"], "礼品包装");

    // Truncated JSON: a 400 problem naming the field, and nothing stored.
    let mut event = fixture("apigw-post-event.json");
    let truncated = r#"{"event_id": "ord-1003-paid", "customer_id": "c1", "type": "order.pa"#;
    event["body"] = json!(truncated);
    event["headers"]["content-length"] = json!(truncated.len().to_string());
    let (status, content_type, body) = parts(&invoke(&app, event).await);
    assert_eq!(status, 400, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["field"], "type", "{body}");
    assert!(body["request_id"].is_string(), "{body}");
    assert_eq!(events_of(store.as_ref()).await.len(), 2);

    // GET /v1/customers/{id}: the activity the two events recorded.
    let (status, _, body) = parts(&invoke(&app, fixture("apigw-get-customer.json")).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "c1");
    assert_eq!(body["activity"]["order.paid"]["count"], 2, "{body}");

    // Without the key: 401, whatever the store holds.
    let mut event = fixture("apigw-get-customer.json");
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    let (status, _, _) = parts(&invoke(&app, event).await);
    assert_eq!(status, 401);

    // A named stage: the path API Gateway sends carries it.
    let mut event = fixture("apigw-get-customer.json");
    event["rawPath"] = json!("/live/v1/customers/c1");
    event["requestContext"]["stage"] = json!("live");
    let (status, _, body) = parts(&invoke(&app, event).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "c1");
}

#[tokio::test]
async fn api_gateway_events_on_sqlite() {
    api_gateway_flow(Arc::new(SqliteStore::in_memory().unwrap())).await;
}

#[tokio::test]
async fn api_gateway_events_on_dynamodb() {
    let client = nudge_tests::moto::dynamo_client().await;
    let table = nudge_tests::moto::unique_name("ingest");
    create_table(&client, &table).await.unwrap();
    api_gateway_flow(Arc::new(DynamoStore::new(client, table))).await;
}

/// The ingest function's API Gateway routes (method, path) in `infra/template.yaml`.
fn template_routes() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let template = std::fs::read_to_string(path).unwrap();
    let ingest = template
        .split("\n  IngestFunction:\n")
        .nth(1)
        .unwrap()
        .split("\n      Policies:")
        .next()
        .unwrap();
    ingest
        .lines()
        .filter(|l| l.contains("Type: HttpApi") || l.contains("Method:"))
        .filter_map(|l| {
            let method = l.split("Method: ").nth(1)?.split(',').next()?.trim();
            let path = l.split("Path: ").nth(1)?.split(',').next()?.trim();
            Some((method.to_string(), path.trim_matches('"').to_string()))
        })
        .collect()
}

#[test]
fn every_route_of_the_api_is_routed_to_the_ingest_function_and_nothing_else() {
    let declared = template_routes();
    assert!(declared.len() > 5, "{declared:?}");
    for (method, path) in nudge_http::ROUTES {
        // A static segment with a colon reaches the function through `/v1/{action}`.
        let routed = if path.contains(':') {
            "/v1/{action}"
        } else {
            path
        };
        assert!(
            declared.iter().any(|(m, p)| m == method && p == routed),
            "{method} {path} is not routed to the ingest function in infra/template.yaml"
        );
    }
    for (method, path) in &declared {
        let known = nudge_http::ROUTES.iter().any(|(m, p)| {
            m == method && (p == path || (path == "/v1/{action}" && p.contains(':')))
        });
        assert!(
            known,
            "the template routes {method} {path}, which the API does not serve"
        );
    }
}

#[tokio::test]
async fn the_router_serves_every_listed_route() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let engine = Arc::new(Engine::new(
        store,
        Arc::new(ManualClock::new(now())),
        vec![book],
    ));
    let publisher = Arc::new(ConsolePublisher::new(Box::new(std::io::sink())));
    let app = router(AppState::new(engine, HttpConfig::default(), publisher));
    for (method, path) in nudge_http::ROUTES {
        let path = path.replace("{id}", "c1").replace("{tenant}", "acme");
        let request = axum::http::Request::builder()
            .method(*method)
            .uri(&path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        // A handler may answer 404 (no such customer, no callbacks for this tenant); the
        // router's own answer for an unknown route says so.
        assert!(
            status != 405 && !body.contains("no such route"),
            "{method} {path} is not served: {status} {body}"
        );
    }
}

//! Tencent Cloud SMS callbacks end to end, on SQLite and on DynamoDB (moto): the token
//! checks, a status report that settles a sent text, and a `TD` reply that opts the
//! customer out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use axum::body::Body;
use axum::http::{Method, Request};
use nudge_core::ports::{OutgoingText, SendError, Sent, SmsSender, Store};
use nudge_core::service::Outbox;
use nudge_local::console::ConsolePublisher;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::suite::{paid, wang, Api, Published, TENCENT_TOKEN};

/// Accepts every text as Tencent would, under a serial number made of the message id.
struct AsTencent;

#[async_trait::async_trait]
impl SmsSender for AsTencent {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        Ok(Sent {
            provider: "tencent",
            provider_id: format!("2433:{}", text.message_id),
        })
    }
}

/// Each check runs on both stores: the deployed ingest function is on DynamoDB.
macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = std::sync::Arc::new(nudge_sqlite::SqliteStore::in_memory().unwrap());
                    super::$check(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $check() {
                    let client = nudge_tests::moto::dynamo_client().await;
                    let table = nudge_tests::moto::unique_name("nudge-tencent");
                    nudge_dynamodb::create_table(&client, &table).await.unwrap();
                    let store = std::sync::Arc::new(nudge_dynamodb::DynamoStore::new(client, table));
                    super::$check(store).await;
                }
            )*
        }
    };
}

on_both_stores!(
    callbacks_need_the_tenants_token,
    a_status_report_marks_the_sent_text_delivered,
    bad_status_reports_are_problems_naming_the_field,
    a_td_reply_opts_the_customer_out_once,
);

fn callback(tenant: &str, kind: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let query = token.map_or_else(String::new, |t| format!("?token={t}"));
    Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/callbacks/tencent/{tenant}/{kind}{query}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// acme's customer c1 (王芳, +8613800138000), with a thank-you text sent through "Tencent".
async fn sent_text(api: &Api) -> Value {
    api.put_customer("c1", wang()).await;
    let r = api
        .admin(Method::POST, "/v1/events", Some(paid("e1", "c1")))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let publisher = Arc::new(ConsolePublisher::new(Box::new(Published::default())));
    let outbox = Outbox::new(api.engine.clone(), Arc::new(AsTencent), publisher);
    assert_eq!(outbox.send_due(10).await.unwrap().sent, 1);
    let r = api
        .admin(Method::GET, "/v1/customers/c1/messages", None)
        .await;
    r.body["messages"][0].clone()
}

async fn callbacks_need_the_tenants_token(store: Arc<dyn Store>) {
    let api = Api::tencent(store).await;
    let body = json!([]);
    let r = api
        .send(callback("acme", "status", Some(TENCENT_TOKEN), &body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"result": 0, "errmsg": "OK"}));
    let r = api
        .send(callback("acme", "status", Some("wrong"), &body))
        .await;
    r.assert_problem(401);
    let r = api.send(callback("acme", "reply", None, &body)).await;
    r.assert_problem(401);
    // A tenant without a token, and no tenant at all.
    let r = api
        .send(callback("other", "status", Some(TENCENT_TOKEN), &body))
        .await;
    r.assert_problem(404);
    let r = api
        .send(callback("nobody", "reply", Some(TENCENT_TOKEN), &body))
        .await;
    r.assert_problem(404);
}

async fn a_status_report_marks_the_sent_text_delivered(store: Arc<dyn Store>) {
    let api = Api::tencent(store).await;
    let message = sent_text(&api).await;
    assert_eq!(message["status"], "sent", "{message}");
    let sid = format!("2433:{}", message["id"].as_str().unwrap());
    let report = json!([{
        "user_receive_time": "2026-03-02 11:00:05", "nationcode": "86",
        "mobile": "13800138000", "report_status": "SUCCESS", "errmsg": "DELIVRD",
        "description": "用户短信送达成功", "sid": sid
    }]);
    let r = api
        .send(callback("acme", "status", Some(TENCENT_TOKEN), &report))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .admin(Method::GET, "/v1/customers/c1/messages", None)
        .await;
    let message = &r.body["messages"][0];
    assert_eq!(message["status"], "delivered", "{message}");
    // Tencent's Beijing time, kept in UTC.
    assert_eq!(
        message["delivery"]["at"], "2026-03-02T03:00:05Z",
        "{message}"
    );
    // A redelivered report changes nothing and is answered the same.
    let r = api
        .send(callback("acme", "status", Some(TENCENT_TOKEN), &report))
        .await;
    assert_eq!(r.status, 200);
}

async fn bad_status_reports_are_problems_naming_the_field(store: Arc<dyn Store>) {
    let api = Api::tencent(store).await;
    let report = json!([{"user_receive_time": "2026-03-02 11:00:05", "report_status": "SUCCESS"}]);
    let r = api
        .send(callback("acme", "status", Some(TENCENT_TOKEN), &report))
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "[0].sid");
}

async fn a_td_reply_opts_the_customer_out_once(store: Arc<dyn Store>) {
    let api = Api::tencent(store).await;
    api.put_customer("c1", wang()).await;
    let reply = json!({
        "extend": "", "mobile": "13800138000", "nationcode": "86", "sign": "阿克米",
        "text": "TD", "time": 1772420400
    });
    let r = api
        .send(callback("acme", "reply", Some(TENCENT_TOKEN), &reply))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"result": 0, "errmsg": "OK"}));
    let r = api.admin(Method::GET, "/v1/customers/c1", None).await;
    assert_eq!(r.body["consent"]["state"], "opted_out", "{}", r.body);
    // Tencent delivering the same callback again is recognised.
    let r = api
        .send(callback("acme", "reply", Some(TENCENT_TOKEN), &reply))
        .await;
    assert_eq!(r.status, 200);
    let r = api
        .send(callback(
            "acme",
            "reply",
            Some(TENCENT_TOKEN),
            &json!({"mobile": "138"}),
        ))
        .await;
    r.assert_problem(400);
    assert_eq!(r.field(), "nationcode");
}

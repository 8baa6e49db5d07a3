//! The sender against a local stand-in for `sms.tencentcloudapi.com` on 127.0.0.1: the stand-in
//! checks the TC3 signature and the body as Tencent would, and answers as Tencent documents
//! for success and for each class of error. Nothing leaves the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nudge_core::domain::{Category, MessageId, PhoneNumber, TemplateRef, TenantId};
use nudge_core::ports::{OutgoingText, SendError, SmsSender};
use nudge_tencent::sign::{sign, SigningInput};
use nudge_tencent::{TencentConfig, TencentSender};

const SECRET_ID: &str = "AKIDtest";
const SECRET_KEY: &str = "test-secret-key";

/// What the stand-in answers for a number: the status code of `SendStatusSet[0]`, or a whole
/// call error when the number ends in the code's digits below.
fn answer_for(number: &str) -> Value {
    let status = |code: &str| {
        json!({"Response": {"SendStatusSet": [{
            "SerialNo": if code == "Ok" { "2433:3361458212621734234" } else { "" },
            "PhoneNumber": number, "Fee": 1, "SessionContext": "", "Code": code,
            "Message": if code == "Ok" { "send success" } else { "refused" }, "IsoCode": "CN"
        }], "RequestId": "0b8e2f6c-3bd1-4a8c-9f0e-4f2f0b1d2a11"}})
    };
    let error = |code: &str| {
        json!({"Response": {"Error": {"Code": code, "Message": "refused"},
            "RequestId": "0b8e2f6c-3bd1-4a8c-9f0e-4f2f0b1d2a11"}})
    };
    match &number[number.len() - 2..] {
        "01" => status("LimitExceeded.PhoneNumberDailyLimit"),
        "02" => status("FailedOperation.InsufficientBalanceInSmsPackage"),
        "03" => status("InvalidParameterValue.IncorrectPhoneNumber"),
        "04" => status("FailedOperation.PhoneNumberInBlacklist"),
        "05" => status("FailedOperation.TemplateIncorrectOrUnapproved"),
        "06" => error("RequestLimitExceeded"),
        "07" => error("InternalError"),
        "08" => error("UnauthorizedOperation.SmsSdkAppIdVerifyFail"),
        _ => status("Ok"),
    }
}

/// Checks one request as Tencent would; an error is the reason it is refused.
fn check(parts: &http::request::Parts, body: &[u8]) -> Result<Value, String> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name}"))
    };
    if parts.method != http::Method::POST || parts.uri.path() != "/" {
        return Err("not POST /".into());
    }
    if header("content-type")? != "application/json; charset=utf-8" {
        return Err("content type".into());
    }
    for (name, value) in [
        ("x-tc-action", "SendSms"),
        ("x-tc-version", "2021-01-11"),
        ("x-tc-region", "ap-guangzhou"),
    ] {
        if header(name)? != value {
            return Err(format!("{name} is not {value}"));
        }
    }
    let timestamp: i64 = header("x-tc-timestamp")?.parse().map_err(|_| "timestamp")?;
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err("signature expired".into());
    }
    let expected = sign(&SigningInput {
        secret_id: SECRET_ID,
        secret_key: SECRET_KEY,
        service: "sms",
        host: header("host")?,
        timestamp,
        payload: body,
    });
    if header("authorization")? != expected.authorization {
        return Err("AuthFailure.SignatureFailure".into());
    }
    serde_json::from_slice(body).map_err(|_| "body is not JSON".into())
}

/// Serves the stand-in on a free port; returns its base URL and the bodies it accepted.
async fn stand_in() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let bodies = bodies.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let answer = match check(&parts, &body) {
                            Ok(request) => {
                                let number = request["PhoneNumberSet"][0]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_string();
                                bodies.lock().unwrap().push(request);
                                answer_for(&number)
                            }
                            Err(reason) => json!({"Response": {"Error": {
                                "Code": "AuthFailure.SignatureFailure", "Message": reason},
                                "RequestId": "x"}}),
                        };
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(
                            answer.to_string(),
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}

fn sender(endpoint: &str, secret_key: &str) -> TencentSender {
    let mut config = TencentConfig::new(SECRET_ID, secret_key, "1400006666", "腾讯云");
    config.endpoint = endpoint.to_string();
    config.timeout = Duration::from_secs(5);
    TencentSender::new(config).unwrap()
}

async fn send(
    sender: &TencentSender,
    number: &str,
    template: Option<&TemplateRef>,
) -> Result<nudge_core::ports::Sent, SendError> {
    let tenant = TenantId::parse("acme").unwrap();
    let message_id = MessageId::parse("msg-1").unwrap();
    let to = PhoneNumber::parse(number, None).unwrap();
    sender
        .send(&OutgoingText {
            tenant: &tenant,
            message_id: &message_id,
            to: &to,
            text: "您的订单已发货",
            category: Category::Transactional,
            segments: 1,
            origination: None,
            template,
        })
        .await
}

fn template() -> TemplateRef {
    TemplateRef {
        id: "1110".into(),
        params: vec!["4370".into(), "王".into()],
    }
}

#[tokio::test]
async fn a_signed_text_goes_out_and_returns_its_serial_number() {
    let (url, seen) = stand_in().await;
    let sent = send(
        &sender(&url, SECRET_KEY),
        "+8613800138000",
        Some(&template()),
    )
    .await
    .unwrap();
    assert_eq!(sent.provider, "tencent");
    assert_eq!(sent.provider_id, "2433:3361458212621734234");
    let bodies = seen.lock().unwrap();
    assert_eq!(
        bodies[0],
        json!({
            "PhoneNumberSet": ["+8613800138000"],
            "SmsSdkAppId": "1400006666",
            "SignName": "腾讯云",
            "TemplateId": "1110",
            "TemplateParamSet": ["4370", "王"],
            "SessionContext": "acme:msg-1",
        })
    );
}

#[tokio::test]
async fn each_class_of_refusal_is_its_send_error() {
    let (url, _) = stand_in().await;
    let sender = sender(&url, SECRET_KEY);
    let t = template();
    let kind = |result: Result<_, SendError>| match result {
        Ok(_) => "sent",
        Err(SendError::Retryable { .. }) => "retryable",
        Err(SendError::Permanent { .. }) => "permanent",
        Err(SendError::SpendLimitReached { .. }) => "spend_limit",
        Err(SendError::InvalidNumber { .. }) => "invalid_number",
        Err(SendError::OptedOut { .. }) => "opted_out",
        Err(SendError::Local(_)) => "local",
    };
    for (number, expected) in [
        ("+8613800138001", "retryable"),
        ("+8613800138002", "spend_limit"),
        ("+8613800138003", "invalid_number"),
        ("+8613800138004", "opted_out"),
        ("+8613800138005", "permanent"),
        ("+8613800138006", "retryable"),
        ("+8613800138007", "retryable"),
        ("+8613800138008", "permanent"),
    ] {
        assert_eq!(
            kind(send(&sender, number, Some(&t)).await),
            expected,
            "{number}"
        );
    }
    let refused = send(&sender, "+8613800138005", Some(&t)).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "tencent: FailedOperation.TemplateIncorrectOrUnapproved: refused"
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_as_permanent() {
    let (url, seen) = stand_in().await;
    let err = send(
        &sender(&url, "another-key"),
        "+8613800138000",
        Some(&template()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains("AuthFailure.SignatureFailure"));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_text_without_a_template_is_not_sent() {
    let (url, seen) = stand_in().await;
    let err = send(&sender(&url, SECRET_KEY), "+8613800138000", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));
    assert!(err.to_string().contains("gateway_template"), "{err}");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_answer_is_retryable() {
    // A port that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = TencentConfig::new(SECRET_ID, SECRET_KEY, "1400006666", "腾讯云");
    config.endpoint = url;
    config.timeout = Duration::from_millis(200);
    let sender = TencentSender::new(config).unwrap();
    let err = send(&sender, "+8613800138000", Some(&template()))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err}");
    drop(listener);
}

#[tokio::test]
async fn each_tenant_sends_with_its_own_account() {
    let (url, seen) = stand_in().await;
    let accounts = format!(
        r#"{{"acme": {{"secret_id": "{SECRET_ID}", "secret_key": "{SECRET_KEY}", "sms_sdk_app_id": "1400006666", "sign_name": "阿克米", "endpoint": "{url}"}},
            "fresh": {{"secret_id": "{SECRET_ID}", "secret_key": "not-fresh's-key", "sms_sdk_app_id": "1400007777", "sign_name": "鲜果", "endpoint": "{url}"}}}}"#
    );
    let senders =
        nudge_tencent::TencentSenders::new(nudge_tencent::parse_accounts(&accounts, "t").unwrap())
            .unwrap();
    let message_id = MessageId::parse("msg-1").unwrap();
    let to = PhoneNumber::parse("+8613800138000", None).unwrap();
    let t = template();
    let send_for = |tenant: &'static str| {
        let senders = senders.clone();
        let (message_id, to, t) = (message_id.clone(), to.clone(), t.clone());
        async move {
            let tenant = TenantId::parse(tenant).unwrap();
            senders
                .send(&OutgoingText {
                    tenant: &tenant,
                    message_id: &message_id,
                    to: &to,
                    text: "您的订单已发货",
                    category: Category::Transactional,
                    segments: 1,
                    origination: None,
                    template: Some(&t),
                })
                .await
        }
    };
    send_for("acme").await.unwrap();
    assert_eq!(seen.lock().unwrap()[0]["SignName"], "阿克米");
    assert_eq!(seen.lock().unwrap()[0]["SessionContext"], "acme:msg-1");
    // fresh's key signs fresh's requests: the stand-in (knowing acme's key) refuses them.
    let refused = send_for("fresh").await.unwrap_err();
    assert!(
        matches!(refused, SendError::Permanent { .. }),
        "{refused:?}"
    );
    let unknown = send_for("other").await.unwrap_err();
    assert!(
        matches!(&unknown, SendError::Permanent { message, .. } if message.contains("no Tencent account")),
        "{unknown:?}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "nothing sent for fresh or other"
    );
}

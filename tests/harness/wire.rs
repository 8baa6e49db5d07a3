//! What the SDK puts on the wire, for asserting on requests moto does not keep (e.g. the
//! SNS message attributes of a Publish).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use aws_sdk_sns::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sns::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sns::error::BoxError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::moto;

/// Records the body of every request the client transmits.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Vec<String>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context
            .request()
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push(body);
        Ok(())
    }
}

impl Recorder {
    pub fn bodies(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A query-protocol body as a map.
pub fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

/// The `MessageAttributes.entry.N` of a Publish request as name → string value, each checked
/// to carry the data type AWS documents for it (`Number` for the price cap, else `String`).
pub fn sms_attributes(body: &str) -> HashMap<String, String> {
    let fields = form(body);
    let mut out = HashMap::new();
    for n in 1..10 {
        let Some(name) = fields.get(&format!("MessageAttributes.entry.{n}.Name")) else {
            break;
        };
        let value = &fields[&format!("MessageAttributes.entry.{n}.Value.StringValue")];
        let expected = if name == "AWS.SNS.SMS.MaxPrice" {
            "Number"
        } else {
            "String"
        };
        assert_eq!(
            fields[&format!("MessageAttributes.entry.{n}.Value.DataType")],
            expected,
            "{name}"
        );
        out.insert(name.clone(), value.clone());
    }
    out
}

pub async fn sns_client(recorder: &Recorder) -> aws_sdk_sns::Client {
    let sdk = moto::sdk_config().await;
    let config = aws_sdk_sns::config::Builder::from(&sdk)
        .interceptor(recorder.clone())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// The AWS operations clients made, per function of the stack: set the function whose
/// code runs next with [`Calls::now_in`], and every call of a client built with this
/// interceptor is recorded as `service:Operation` (IAM's spelling) under it.
#[derive(Clone, Debug, Default)]
pub struct Calls(Arc<Mutex<CallLog>>);

#[derive(Debug, Default)]
struct CallLog {
    function: String,
    made: std::collections::BTreeSet<(String, String)>,
}

impl Calls {
    pub fn now_in(&self, function: &str) {
        self.0.lock().unwrap().function = function.to_string();
    }

    /// (function, `service:Operation`) of every call made.
    pub fn made(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().made.iter().cloned().collect()
    }
}

/// IAM's service prefix of an SDK service name.
fn iam_prefix(service: &str) -> String {
    match service {
        "DynamoDB" => "dynamodb".into(),
        "SNS" => "sns".into(),
        "EventBridge" => "events".into(),
        "CloudWatch Logs" => "logs".into(),
        other => other.to_ascii_lowercase(),
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        if let Some(metadata) = cfg.load::<Metadata>() {
            let action = format!("{}:{}", iam_prefix(metadata.service()), metadata.name());
            let mut log = self.0.lock().unwrap();
            // Calls before the first function runs are the test's own set-up.
            if !log.function.is_empty() {
                let function = log.function.clone();
                log.made.insert((function, action));
            }
        }
        Ok(())
    }
}

/// The IAM actions `infra/template.yaml` allows each function (`XxxFunction` resources),
/// read from their inline policies' `Action:` entries.
pub fn template_actions() -> HashMap<String, Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let template = std::fs::read_to_string(path).unwrap();
    let mut actions: HashMap<String, Vec<String>> = HashMap::new();
    let mut function: Option<String> = None;
    let mut in_actions = false;
    for line in template.lines() {
        // A resource starts two spaces in.
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            let name = line.trim().trim_end_matches(':');
            function = name.ends_with("Function").then(|| name.to_string());
            in_actions = false;
            continue;
        }
        let Some(function) = &function else { continue };
        let trimmed = line.trim();
        let mut take = |value: &str| {
            let value = value.trim().trim_matches('"');
            if value.contains(':') && !value.contains(' ') {
                actions
                    .entry(function.clone())
                    .or_default()
                    .push(value.to_string());
            }
        };
        if let Some(rest) = trimmed.strip_prefix("Action:") {
            in_actions = rest.trim().is_empty();
            if !in_actions {
                take(rest);
            }
        } else if in_actions {
            match trimmed.strip_prefix("- ") {
                Some(item) => take(item),
                None => in_actions = false,
            }
        }
    }
    actions
}

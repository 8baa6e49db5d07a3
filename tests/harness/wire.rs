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

//! TEMPORARY moto starter for `aws_adapters.rs` (and `sdk_env.rs`): to be replaced at merge
//! by the shared harness `common/moto.rs` (same idea: one moto server per test process on a
//! free 127.0.0.1 port, `endpoint()`, `sdk_config()`).
//!
//! The server runs under a small shell that kills it when this process's end of its stdin
//! pipe closes, so no moto outlives the tests. Python: `$MOTO_PYTHON`, else the workspace's
//! `.venv/bin/python` (what `scripts/test` installs), else `python3`.
#![allow(dead_code)]
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Server {
    port: u16,
    _child: Mutex<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn python() -> String {
    if let Ok(python) = std::env::var("MOTO_PYTHON") {
        return python;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv.display().to_string();
    }
    "python3".to_string()
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = format!(
            "\"$0\" -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; \
             cat >/dev/null; kill $pid"
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(python())
            .stdin(Stdio::piped())
            .spawn()
            .expect("starting moto (pip install 'moto[server]')");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = request_on(port, "GET", "/moto-api/", &[], "") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            port,
            _child: Mutex::new(child),
        }
    })
}

pub fn endpoint() -> String {
    format!("http://127.0.0.1:{}", server().port)
}

/// An SDK configuration pointing at moto (region us-east-1, static test credentials).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

fn request_on(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// One plain HTTP request to moto; returns status and body.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    request_on(server().port, method, path, headers, body).unwrap()
}

/// Everything moto holds (`GET /moto-api/data.json`).
pub fn data() -> serde_json::Value {
    let (status, body) = request("GET", "/moto-api/data.json", &[], "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A call in the AWS JSON protocol (e.g. SQS `AmazonSQS.CreateQueue`).
pub fn json_call(target: &str, input: serde_json::Value) -> serde_json::Value {
    let (status, body) = request(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", target),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ],
        &input.to_string(),
    );
    assert_eq!(status, 200, "{target}: {body}");
    serde_json::from_str(&body).unwrap()
}

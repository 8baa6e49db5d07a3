//! The AWS emulator for integration tests: one `moto` server per test process, on a free
//! 127.0.0.1 port, started on first use and stopped when the process exits. Tests isolate
//! themselves by resource names (a table per test), so they run in parallel on one server.
//!
//! `MOTO_SERVER_CMD` replaces the default command `PYTHON tests/harness/moto_server.py` (moto's
//! server with one request at a time inside the emulator, see that file; it gets
//! `-H 127.0.0.1 -p PORT` appended); PYTHON is `$MOTO_PYTHON`, else the workspace's
//! `.venv/bin/python` (what `./scripts/test` installs), else `python3`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static SERVER: OnceLock<Result<u16, String>> = OnceLock::new();
/// The write end of the watchdog's stdin (see `start`).
static WATCHDOG: OnceLock<Option<std::process::ChildStdin>> = OnceLock::new();

/// Base URL of the emulator (`http://127.0.0.1:PORT`), starting it if needed.
pub fn endpoint() -> String {
    format!("http://127.0.0.1:{}", port())
}

fn port() -> u16 {
    match SERVER.get_or_init(start) {
        Ok(port) => *port,
        Err(message) => panic!("{message}"),
    }
}

fn python() -> String {
    if let Ok(python) = std::env::var("MOTO_PYTHON") {
        return python;
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv.display().to_string();
    }
    "python3".to_string()
}

/// An SDK configuration pointing at the emulator, with static test credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// A name no other test of this process (or of a parallel test process) uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn free_port() -> std::io::Result<u16> {
    // The port is free once the listener is dropped; moto binds it right after.
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start() -> Result<u16, String> {
    let hint = "the AWS emulator (moto) could not be started; run ./scripts/test, which installs \
                it, or set MOTO_SERVER_CMD";
    let port = free_port().map_err(|e| format!("{hint}: no free port: {e}"))?;
    let command = std::env::var("MOTO_SERVER_CMD").unwrap_or_else(|_| {
        // This harness sits one level below the workspace root.
        let launcher =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/moto_server.py");
        format!("'{}' '{}'", python(), launcher.display())
    });
    let log = std::env::temp_dir().join(format!("nudge-moto-{port}.log"));
    // A watchdog shell stops moto when this process exits (Rust runs no destructors for
    // statics, and moto does not stop by itself): its stdin is a pipe whose write end only
    // this process holds, so `read` sees end-of-file as soon as the process is gone, however
    // it ended. The loop also ends if moto dies, which `try_wait` below then notices.
    let script = format!(
        "{command} -H 127.0.0.1 -p {port} </dev/null >'{log}' 2>&1 & pid=$!; \
         while kill -0 $pid 2>/dev/null; do \
           read -r -t 1 _; status=$?; \
           if [ $status -ne 0 ] && [ $status -le 128 ]; then break; fi; \
         done; \
         kill $pid 2>/dev/null",
        log = log.display(),
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{hint}: {e}"))?;
    // Held until the process exits; never written to.
    let _ = WATCHDOG.set(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers(port) {
            return Ok(port);
        }
        if let Ok(Some(_)) = child.try_wait() {
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{hint}; `{command}` exited:\n{output}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{hint}; `{command}` did not answer on port {port} within 60 s (log: {})",
        log.display()
    ))
}

/// Whether `GET /moto-api/` answers 200.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
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
    request_on(port(), method, path, headers, body).unwrap()
}

/// Everything moto holds (`GET /moto-api/data.json`).
pub fn data() -> serde_json::Value {
    let (status, body) = request("GET", "/moto-api/data.json", &[], "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A call in the AWS JSON protocol (e.g. SQS `AmazonSQS.CreateQueue`, DynamoDB Streams
/// `DynamoDBStreams_20120810.GetRecords`); the emulator picks the service from the target.
pub fn json_call(target: &str, input: serde_json::Value) -> serde_json::Value {
    // The signing name in the credential scope routes the request inside moto.
    let service = if target.starts_with("DynamoDBStreams") {
        "dynamodb"
    } else if target.starts_with("Logs_") {
        "logs"
    } else {
        "sqs"
    };
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let (status, body) = request(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", target),
            ("Authorization", &authorization),
        ],
        &input.to_string(),
    );
    assert_eq!(status, 200, "{target}: {body}");
    // Some actions (CloudWatch Logs' CreateLogStream) answer with an empty body.
    if body.trim().is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str(&body).unwrap()
}

/// Reads a table's stream as Lambda's event source mapping does, through the emulator's
/// DynamoDB Streams API.
pub struct StreamReader {
    arn: String,
    iterators: Vec<String>,
}

impl StreamReader {
    /// Reads from the oldest record the stream holds.
    pub async fn open(client: &aws_sdk_dynamodb::Client, table: &str) -> StreamReader {
        StreamReader::open_at(client, table, "TRIM_HORIZON").await
    }

    /// Reads from `position` (`TRIM_HORIZON`, or `LATEST` for what is written from now on).
    pub async fn open_at(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        position: &str,
    ) -> StreamReader {
        let table = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let arn = table
            .table()
            .and_then(|t| t.latest_stream_arn())
            .expect("the table has a stream")
            .to_string();
        let description = json_call(
            "DynamoDBStreams_20120810.DescribeStream",
            serde_json::json!({"StreamArn": arn}),
        );
        let iterators = description["StreamDescription"]["Shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|shard| {
                json_call(
                    "DynamoDBStreams_20120810.GetShardIterator",
                    serde_json::json!({"StreamArn": arn, "ShardId": shard["ShardId"],
                           "ShardIteratorType": position}),
                )["ShardIterator"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        StreamReader { arn, iterators }
    }

    /// The records written since the last read, as the Lambda event's `Records`.
    pub fn read(&mut self) -> Vec<serde_json::Value> {
        let mut records = Vec::new();
        for iterator in &mut self.iterators {
            let page = json_call(
                "DynamoDBStreams_20120810.GetRecords",
                serde_json::json!({"ShardIterator": iterator}),
            );
            for mut record in page["Records"].as_array().cloned().unwrap_or_default() {
                record["eventSourceARN"] = serde_json::json!(self.arn);
                records.push(record);
            }
            if let Some(next) = page["NextShardIterator"].as_str() {
                *iterator = next.to_string();
            }
        }
        records
    }
}

/// The template's `FilterCriteria` of the send function's stream source: inserted or modified
/// message items whose status is `queued`.
pub fn passes_send_filter(record: &serde_json::Value) -> bool {
    let image = &record["dynamodb"]["NewImage"];
    matches!(record["eventName"].as_str(), Some("INSERT" | "MODIFY"))
        && image["kind"]["S"] == "message"
        && image["status"]["S"] == "queued"
}

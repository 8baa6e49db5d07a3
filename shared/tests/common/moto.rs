//! The AWS emulator for integration tests: one `moto` server per test process, on a free
//! 127.0.0.1 port, started on first use and stopped when the process exits. Tests isolate
//! themselves by resource names (a table per test), so they run in parallel on one server.
//!
//! `MOTO_SERVER_CMD` replaces the default command `python3 -m moto.server` (it gets
//! `-H 127.0.0.1 -p PORT` appended). `./scripts/test` installs moto in `.venv`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
/// The write end of the watchdog's stdin (see `start`).
static WATCHDOG: OnceLock<Option<std::process::ChildStdin>> = OnceLock::new();

/// Base URL of the emulator (`http://127.0.0.1:PORT`), starting it if needed.
pub fn endpoint() -> String {
    match SERVER.get_or_init(start) {
        Ok(url) => url.clone(),
        Err(message) => panic!("{message}"),
    }
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

fn start() -> Result<String, String> {
    let hint = "the AWS emulator (moto) could not be started; run ./scripts/test, which installs \
                it, or set MOTO_SERVER_CMD";
    let port = free_port().map_err(|e| format!("{hint}: no free port: {e}"))?;
    let command =
        std::env::var("MOTO_SERVER_CMD").unwrap_or_else(|_| "python3 -m moto.server".into());
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
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers(port) {
            return Ok(url);
        }
        if let Ok(Some(_)) = child.try_wait() {
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{hint}; `{command}` exited:\n{output}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{hint}; `{command}` did not answer on {url} within 60 s (log: {})",
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

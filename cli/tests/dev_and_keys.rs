//! `nudge keys` and `nudge dev` as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use nudge_core::ports::ApiKeyStore;
use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::TcpStream;
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nudge_tests::moto;

const NUDGE: &str = env!("CARGO_BIN_EXE_nudge");

fn rules() -> String {
    format!("{}/../examples/logistics.yaml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn keys_are_created_once_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let out = Command::new(NUDGE)
        .args(["keys", "create", "--db"])
        .arg(&db)
        .args([
            "--tenant",
            "swiftship",
            "--scopes",
            "events:write,read",
            "--regions",
            "north",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        key.starts_with("nk_") && key.len() == 3 + 12 + 1 + 40,
        "{key}"
    );
    let id = &key[3..15];
    let revoke = |id: &str| {
        Command::new(NUDGE)
            .args(["keys", "revoke", "--db"])
            .arg(&db)
            .arg(id)
            .output()
            .unwrap()
    };
    let out = revoke(id);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked key"));
    assert!(!revoke("nosuchkey000").status.success());
    let out = Command::new(NUDGE)
        .args(["keys", "create", "--db"])
        .arg(&db)
        .args(["--tenant", "swiftship", "--scopes", "write-all"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope"));
}

/// Starts `nudge dev` with the example rulebook on a free port and `db`, plus `extra` arguments;
/// returns the port and the running child.
fn spawn_dev(
    db: &std::path::Path,
    extra: &[&std::ffi::OsStr],
    stdout: Stdio,
) -> (u16, std::process::Child) {
    spawn_dev_with(&rules(), db, extra, stdout)
}

/// A rulebook for tenant `acme` (the conformance fixtures' tenant), sending from its own
/// number, written into `dir`.
fn acme_rules(dir: &std::path::Path) -> String {
    let path = dir.join("acme.yaml");
    std::fs::write(
        &path,
        r#"tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
sender: {number: "+8613900000000"}
rules:
  - id: notice
    category: transactional
    trigger: {event: parcel.signed}
    template: "您的快递已签收。"
"#,
    )
    .unwrap();
    path.display().to_string()
}

/// [`spawn_dev`] with another rulebook.
fn spawn_dev_with(
    rules: &str,
    db: &std::path::Path,
    extra: &[&std::ffi::OsStr],
    stdout: Stdio,
) -> (u16, std::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(NUDGE)
        .args(["dev", "--rules", rules, "--port", &port.to_string(), "--db"])
        .arg(db)
        .args(extra)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (port, child)
}

/// The admin key `nudge dev` prints on start, and the rest of its output, which must stay
/// open (the server would die writing to a closed pipe).
fn printed_key(child: &mut std::process::Child) -> (String, Lines<BufReader<ChildStdout>>) {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let key = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find_map(|l| l.strip_prefix("export NUDGE_KEY=").map(str::to_string))
        .unwrap();
    (key, lines)
}

fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn dev_serves_the_api_with_its_printed_key() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mut child) = spawn_dev(&dir.path().join("dev.db"), &[], Stdio::piped());
    let (key, _output) = printed_key(&mut child);
    let health = http(
        port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = r#"{"phone": "+8613800138000", "timezone": "Asia/Shanghai"}"#;
    let put = http(
        port,
        &format!(
            "PUT /v1/customers/c1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(put.starts_with("HTTP/1.1 201"), "{put}");
    let anonymous = http(
        port,
        "GET /v1/customers/c1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(anonymous.contains("application/problem+json"));
    // Stop it (the child we started, by its handle) and wait.
    let started = Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `nudge keys` on the deployed table, as a cloud team creates keys for the ingest function.
#[tokio::test]
async fn keys_are_created_in_and_revoked_from_the_dynamodb_table() {
    use nudge_dynamodb::{create_table, DynamoStore};
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::unique_name("nudge-keys");
    create_table(&client, &table).await.unwrap();
    let nudge = |args: &[&str]| {
        Command::new(NUDGE)
            .args(args)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", moto::endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap()
    };
    let out = nudge(&[
        "keys",
        "create",
        "--table",
        &table,
        "--tenant",
        "swiftship",
        "--scopes",
        "events:write",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let id = &key[3..15];
    let store = DynamoStore::new(client, table.clone());
    let stored = store.get_api_key(id).await.unwrap().unwrap();
    assert_eq!(stored.tenant.as_str(), "swiftship");
    assert!(stored.revoked_at.is_none());
    assert!(
        !format!("{stored:?}").contains(&key[16..]),
        "only the hash is stored"
    );

    let out = nudge(&["keys", "revoke", "--table", &table, id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(store
        .get_api_key(id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());

    // Exactly one place: both or neither is a usage error naming the flags.
    let out = nudge(&["keys", "revoke", "--table", &table, "--db", "x.db", id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--table"));
    let out = nudge(&["keys", "revoke", id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--db"));
}

/// A `nudge dev` run was killed while it held two texts: one claimed but not yet handed to
/// the console provider, one handed over (transactional). The next run settles both and
/// sends them, so no text stays in `sending` for ever.
#[tokio::test]
async fn dev_settles_texts_a_killed_run_was_holding() {
    use nudge_core::domain::{Category, MessageStatus};
    use nudge_core::ports::{Claim, Counters, MessageStore};
    use nudge_sqlite::SqliteStore;
    use nudge_tests::conformance::{at, customer, message, stored};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let outbox = dir.path().join("outbox.jsonl");
    let ids = {
        let store = SqliteStore::open(&db).unwrap();
        let c = stored(&store, &customer("c1", "13800138001")).await;
        let mut ids = Vec::new();
        for (occurrence, category, status) in [
            ("a", Category::Care, MessageStatus::Sending),
            ("b", Category::Transactional, MessageStatus::Dispatched),
        ] {
            let mut queued = message(&c, "notice", occurrence, at(2, 10, 0));
            queued.category = category;
            store
                .queue_message(&queued, &Counters::new())
                .await
                .unwrap();
            let mut held = queued.clone();
            held.status = MessageStatus::Sending;
            held.attempts = 1;
            held.lease_until = Some(at(2, 10, 5));
            assert_eq!(store.claim_message(&held).await.unwrap(), Claim::Claimed);
            if status == MessageStatus::Dispatched {
                let mut dispatched = held.clone();
                dispatched.status = status;
                let from = nudge_core::ports::MessageState::of(&held);
                assert!(store.transition_message(&dispatched, from).await.unwrap());
            }
            ids.push(queued.id);
        }
        ids
    };
    let sent = dev_until_sent(&db, &outbox, 2);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let store = SqliteStore::open(&db).unwrap();
    for id in &ids {
        let m = store
            .get_message(&nudge_tests::conformance::tenant(), id)
            .await
            .unwrap()
            .unwrap();
        // Sent, and delivered once the console provider's receipt is recorded (which the
        // kill right after the send may precede).
        assert!(
            matches!(m.status, MessageStatus::Sent | MessageStatus::Delivered),
            "{id}: {:?}",
            m.status
        );
        assert_eq!(m.lease_until, None, "{id}");
    }
}

/// The done-criterion of receipts on a laptop: 1,000 texts through `nudge dev --fail-rate
/// 0.05`, and `/v1/stats` reports a delivery rate of 95 % within the binomial noise.
#[tokio::test]
async fn dev_reports_the_delivery_rate_its_console_provider_was_asked_for() {
    use nudge_core::ports::{Counters, MessageStore};
    use nudge_sqlite::SqliteStore;
    use nudge_tests::conformance::{customer, message, stored};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let c = stored(&store, &customer("c1", "13800138001")).await;
        let now = chrono::Utc::now();
        for n in 0..1000 {
            let mut queued = message(&c, "notice", &format!("parcel-{n}"), now);
            queued.category = nudge_core::domain::Category::Transactional;
            store
                .queue_message(&queued, &Counters::new())
                .await
                .unwrap();
        }
    }
    let rules = acme_rules(dir.path());
    let (port, mut child) = spawn_dev_with(
        &rules,
        &db,
        &[
            std::ffi::OsStr::new("--fail-rate"),
            std::ffi::OsStr::new("0.05"),
        ],
        Stdio::piped(),
    );
    let (key, output) = printed_key(&mut child);
    // Every text is printed: keep reading so the server never blocks on a full pipe.
    let printed = std::thread::spawn(move || {
        output
            .map_while(Result::ok)
            .filter(|l| l.starts_with("UNDELIVERED"))
            .count()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let delivery = loop {
        let response = http(
            port,
            &format!(
                "GET /v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
                 Connection: close\r\n\r\n"
            ),
        );
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        let stats: serde_json::Value = serde_json::from_str(body).unwrap();
        let delivery = stats["delivery"].clone();
        let receipted = delivery["delivered"].as_i64().unwrap_or(0)
            + delivery["undelivered"].as_i64().unwrap_or(0);
        if receipted >= 1000 || Instant::now() > deadline {
            break delivery;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(delivery["sent"], 1000, "{delivery}");
    assert_eq!(delivery["awaiting_receipt"], 0, "{delivery}");
    let rate = delivery["delivery_rate"].as_f64().unwrap();
    // ±3 standard deviations of a binomial share of 5 % over 1,000 texts: ±2.1 points.
    assert!((0.929..=0.971).contains(&rate), "{delivery}");
    let undelivered = delivery["undelivered"].as_u64().unwrap();
    assert_eq!(
        delivery["undelivered_by_reason"]["unreachable"],
        undelivered
    );
    assert_eq!(
        printed.join().unwrap() as u64,
        undelivered,
        "each one printed"
    );
}

/// Starts `nudge dev` on `db` with its outbox in `outbox`, waits until the outbox holds
/// `lines` texts (at most 30 s), stops it and returns the outbox's lines.
fn dev_until_sent(db: &std::path::Path, outbox: &std::path::Path, lines: usize) -> Vec<String> {
    let rules = acme_rules(db.parent().unwrap());
    let (_, mut child) = spawn_dev_with(
        &rules,
        db,
        &[std::ffi::OsStr::new("--outbox"), outbox.as_os_str()],
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent = loop {
        let text = std::fs::read_to_string(outbox).unwrap_or_default();
        if text.lines().count() >= lines || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    sent.lines().map(str::to_string).collect()
}

/// Replies find their text by provider id, so a restarted `nudge dev` must not reuse the ids
/// of the texts an earlier run sent from the same database.
#[tokio::test]
async fn console_provider_ids_stay_unique_across_restarts() {
    use nudge_core::ports::{Counters, CustomerStore, MessageStore};
    use nudge_sqlite::SqliteStore;
    use nudge_tests::conformance::{at, customer, message, stored};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let outbox = dir.path().join("outbox.jsonl");
    let queue = |occurrence: &'static str| {
        let db = db.clone();
        async move {
            let store = SqliteStore::open(&db).unwrap();
            let c = match store
                .get_customer(
                    &nudge_tests::conformance::tenant(),
                    &customer("c1", "13800138001").id,
                )
                .await
                .unwrap()
            {
                Some(c) => c,
                None => stored(&store, &customer("c1", "13800138001")).await,
            };
            let m = message(&c, "notice", occurrence, at(2, 10, 0));
            store.queue_message(&m, &Counters::new()).await.unwrap();
        }
    };
    queue("first").await;
    assert_eq!(dev_until_sent(&db, &outbox, 1).len(), 1);
    queue("second").await;
    let lines = dev_until_sent(&db, &outbox, 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let ids: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["provider_id"].to_string())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

/// `nudge sign` makes the header a tenant with a webhook secret needs: `nudge dev` accepts
/// the request it signed once, refuses it replayed, and refuses it on another path.
#[test]
fn requests_signed_by_nudge_sign_are_accepted_once() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "whsec_0123456789abcdef";
    let (port, mut child) = spawn_dev(
        &dir.path().join("dev.db"),
        &["--webhook-secret".as_ref(), secret.as_ref()],
        Stdio::piped(),
    );
    let (key, _output) = printed_key(&mut child);
    let body = r#"{"phone": "+8613800138000", "timezone": "Asia/Shanghai"}"#;
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, body).unwrap();
    let out = Command::new(NUDGE)
        .args([
            "sign",
            "--method",
            "put",
            "--path",
            "/v1/customers/c1",
            "--body-file",
        ])
        .arg(&body_file)
        .env("NUDGE_WEBHOOK_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signature = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        signature.starts_with("t=") && signature.contains(",v2="),
        "{signature}"
    );
    let put = |path: &str| {
        http(
            port,
            &format!(
                "PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
                 X-Nudge-Signature: {signature}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let other_path = put("/v1/customers/c2");
    assert!(other_path.starts_with("HTTP/1.1 401"), "{other_path}");
    let first = put("/v1/customers/c1");
    assert!(first.starts_with("HTTP/1.1 201"), "{first}");
    let replay = put("/v1/customers/c1");
    assert!(replay.starts_with("HTTP/1.1 401"), "{replay}");
    assert!(replay.contains("used before"), "{replay}");
    // Without the secret in the environment it says what to set.
    let out = Command::new(NUDGE)
        .args(["sign", "--method", "GET", "--path", "/v1/customers/c1"])
        .env_remove("NUDGE_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NUDGE_WEBHOOK_SECRET"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Sends `request` as is and reads the whole answer (the server closes the connection); a
/// server that held the connection open would fail the read after 30 s.
fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

fn assert_problem(response: &str, status: u16, problem: &str) {
    assert!(
        response.starts_with(&format!("HTTP/1.1 {status} ")),
        "{response}"
    );
    assert!(response.contains("application/problem+json"), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body["type"],
        format!("https://nudge.dev/problems/{problem}")
    );
    assert_eq!(body["status"], status);
}

/// What the server answers before the API sees a request is problem+json too, and clients
/// that never finish their head or body are answered and dropped after the read timeout.
#[test]
fn requests_refused_before_the_api_get_a_problem_and_slow_clients_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mut child) = spawn_dev(
        &dir.path().join("dev.db"),
        &["--read-timeout".as_ref(), "1".as_ref()],
        Stdio::piped(),
    );
    let (key, _output) = printed_key(&mut child);
    let long_path = format!(
        "GET /v1/customers/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(9000)
    );
    assert_problem(&exchange(port, long_path.as_bytes()), 414, "uri-too-long");
    let headers: String = (0..100).map(|i| format!("X-Probe-{i}: 1\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    assert_problem(&exchange(port, many.as_bytes()), 431, "headers-too-large");
    let raw = b"GET /v1/customers/\xff HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_problem(&exchange(port, raw), 400, "malformed-request");
    // Many clients that stop in the middle of their head: each is answered 408 and closed.
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost:").unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            stream
        })
        .collect();
    for mut stream in idle {
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        assert_problem(&String::from_utf8_lossy(&response), 408, "request-timeout");
    }
    // A body that never arrives in full.
    let partial_body = format!(
        "PUT /v1/customers/c1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"phone\":"
    );
    assert_problem(
        &exchange(port, partial_body.as_bytes()),
        408,
        "request-timeout",
    );
    // The server still serves, one request per connection.
    let health = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.to_ascii_lowercase().contains("connection: close"),
        "{health}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

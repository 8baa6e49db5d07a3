//! Load figure for `POST /v1/events`: starts the router on 127.0.0.1:0 in-process over a
//! temporary SQLite file, then C tasks send N events over keep-alive HTTP/1.1 connections and
//! the run prints events/s and latency percentiles. Bounded in count and in time.
//!
//! cargo run --release -p nudge-cli --example load_events -- --events 20000 --concurrency 16
use anyhow::{bail, Context, Result};
use nudge_core::clock::SystemClock;
use nudge_core::domain::{Scope, TenantId};
use nudge_core::ports::{ApiKeyStore, Clock};
use nudge_core::rulebook;
use nudge_core::service::{CustomerInput, Engine, EventInput};
use nudge_http::{generate_key, router, AppState, HttpConfig};
use nudge_local::console::ConsolePublisher;
use nudge_sqlite::SqliteStore;
use serde_json::{json, Map};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const RULES: &str = r#"
tenant: bench
brand: Bench
timezone: UTC
phone_region: CN
attributes: [name]
policy:
  window: {start: "00:00", end: "23:59"}
  transactional: {window: {start: "00:00", end: "23:59"}}
rules:
  - id: thank-you
    category: transactional
    trigger: {event: order.paid}
    template: "{{name}}, thank you for order {{event.properties.order_id}}."
  - id: follow-up
    category: care
    trigger: {event: order.paid, delay: 2d}
    template: "{{name}}, how is your order?"
"#;
const CUSTOMERS: usize = 1000;

struct Options {
    events: usize,
    concurrency: usize,
    max_seconds: u64,
    /// Also ingest the same number of events straight through the engine (no HTTP), to show
    /// what the HTTP layer costs.
    direct: bool,
}

fn options() -> Result<Options> {
    let mut o = Options {
        events: 20_000,
        concurrency: 16,
        max_seconds: 60,
        direct: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).context("every option needs a value")?;
        match pair[0].as_str() {
            "--events" => o.events = value.parse()?,
            "--concurrency" => o.concurrency = value.parse::<usize>()?.max(1),
            "--max-seconds" => o.max_seconds = value.parse()?,
            "--direct" => o.direct = value.parse()?,
            other => bail!(
                "unknown option {other} (--events N --concurrency C --max-seconds S --direct true)"
            ),
        }
    }
    Ok(o)
}

fn main() -> Result<()> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("load.db"))?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let book = rulebook::parse(RULES, "bench.yaml").map_err(|e| anyhow::anyhow!("{e}"))?;
    let tenant = TenantId::parse("bench")?;
    let engine = Arc::new(Engine::new(store.clone(), clock.clone(), vec![book]));
    load_customers(&engine, &tenant).await?;
    let (key, stored) = generate_key(
        tenant.clone(),
        vec![Scope::EventsWrite],
        vec![],
        None,
        clock.now(),
    )?;
    store.put_api_key(&stored).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = router(AppState::new(
        engine.clone(),
        HttpConfig::default(),
        Arc::new(ConsolePublisher::discard()),
    ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    over_http(addr, &key, &options).await?;
    if options.direct {
        direct(&engine, &tenant, options.events).await?;
    }
    Ok(())
}

async fn load_customers(engine: &Engine<SqliteStore>, tenant: &TenantId) -> Result<()> {
    for i in 0..CUSTOMERS {
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(format!("Customer {i}")));
        let input = CustomerInput {
            id: format!("c{i}"),
            phone: format!("+86138{:08}", i),
            region: None,
            timezone: None,
            locale: None,
            attributes,
        };
        engine.upsert_customer(tenant, input).await?;
    }
    Ok(())
}

fn event(i: usize) -> serde_json::Value {
    json!({"event_id": format!("ev-{i}"), "customer_id": format!("c{}", i % CUSTOMERS),
        "type": "order.paid", "properties": {"order_id": format!("A-{i}")}})
}

/// The same events straight into the engine, one after the other (the store is one writer).
async fn direct(engine: &Engine<SqliteStore>, tenant: &TenantId, events: usize) -> Result<()> {
    let began = Instant::now();
    for i in 0..events {
        let mut input: EventInput = serde_json::from_value(event(i))?;
        input.event_id = format!("direct-{i}");
        engine.ingest_event(tenant, input).await?;
    }
    let elapsed = began.elapsed().as_secs_f64();
    println!(
        "{events} events straight into the engine (no HTTP) in {elapsed:.2}s: {:.0} events/s",
        events as f64 / elapsed
    );
    Ok(())
}

async fn over_http(addr: std::net::SocketAddr, key: &str, options: &Options) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.max_seconds);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency {
        let next = next.clone();
        let key = key.to_string();
        let total = options.events;
        tasks.push(tokio::spawn(async move {
            client(addr, &key, &next, total, deadline).await
        }));
    }
    let mut latencies = Vec::with_capacity(options.events);
    let mut failures = 0usize;
    for task in tasks {
        let (lat, failed) = task.await??;
        latencies.extend(lat);
        failures += failed;
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies
            .get(i)
            .map_or(0.0, |d: &Duration| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{} events ({} failed) from {} connections in {:.2}s: {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        failures,
        options.concurrency,
        elapsed,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// One keep-alive connection sending events until the count or the time is used up.
async fn client(
    addr: std::net::SocketAddr,
    key: &str,
    next: &AtomicUsize,
    total: usize,
    deadline: Instant,
) -> Result<(Vec<Duration>, usize)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut line = String::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total || Instant::now() > deadline {
            break;
        }
        let body =
            json!({"event_id": format!("ev-{i}"), "customer_id": format!("c{}", i % CUSTOMERS),
            "type": "order.paid", "properties": {"order_id": format!("A-{i}")}})
            .to_string();
        let request = format!(
            "POST /v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let sent = Instant::now();
        write.write_all(request.as_bytes()).await?;
        line.clear();
        read.read_line(&mut line).await?;
        let ok = line.starts_with("HTTP/1.1 202");
        let mut length = 0usize;
        loop {
            line.clear();
            read.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
            }
        }
        let mut response = vec![0u8; length];
        read.read_exact(&mut response).await?;
        latencies.push(sent.elapsed());
        if !ok {
            failed += 1;
        }
    }
    Ok((latencies, failed))
}

//! What one evaluate tick costs as the customer base grows: `--due` timers due in the measured
//! minute among `--customers` customers (the others have timers due on other days). A tick
//! reads only the due minute's shards, so its cost should not depend on the customer count.
//!
//! On SQLite the tick's wall time is the figure. On DynamoDB the figure is the number of
//! requests per tick (what DynamoDB bills and what its latency multiplies): the emulator's
//! wall time is not, because moto deep-copies a whole table for every item of every
//! TransactWriteItems, which makes its time grow with the table however the store behaves.
//!
//! ```sh
//! cargo run --release -p nudge-tests --example tick_cost -- sqlite 1000 100000
//! cargo run --release -p nudge-tests --example tick_cost -- dynamodb 100 2000   # starts moto
//! ```
//! Arguments: store (`sqlite` | `dynamodb`), due timers, customers (default 1000 100000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool: failing loudly is fine

use nudge_tests::moto;
mod support;

use chrono::TimeDelta;
use nudge_core::clock::ManualClock;
use nudge_core::domain::TenantId;
use nudge_core::ports::Store;
use nudge_core::service::Engine;
use nudge_dynamodb::{create_table, DynamoStore};
use nudge_sqlite::SqliteStore;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use support::{due_minute, emulator_config, metered_client, saas_rulebook, seed, Meter};

async fn measure(kind: &str, due: usize, customers: usize) -> f64 {
    let tenant = TenantId::parse("cloudnote").unwrap();
    let meter = Arc::new(Mutex::new(Meter::default()));
    let store: Arc<dyn Store> = match kind {
        "sqlite" => {
            let dir = std::env::temp_dir().join(moto::unique_name("nudge-tick"));
            std::fs::create_dir_all(&dir).unwrap();
            Arc::new(SqliteStore::open(dir.join("nudge.db")).unwrap())
        }
        "dynamodb" => {
            let client = metered_client(&emulator_config().await, &meter);
            let table = moto::unique_name("nudge-tick");
            create_table(&client, &table).await.unwrap();
            Arc::new(DynamoStore::new(client, table))
        }
        other => panic!("unknown store {other}: sqlite or dynamodb"),
    };
    seed(store.clone(), &tenant, due, customers).await;
    let book = saas_rulebook();
    let clock = Arc::new(ManualClock::new(due_minute() - TimeDelta::minutes(1)));
    let engine = Engine::new(store.clone(), clock.clone(), vec![book]);
    engine.tick().await.unwrap(); // sets the checkpoint to the minute before
    clock.set(due_minute() + TimeDelta::seconds(5));
    *meter.lock().unwrap() = Meter::default();

    let started = Instant::now();
    let report = engine.tick().await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let sends = report
        .decisions
        .iter()
        .filter(|d| d.outcome.kind() == "send")
        .count();
    assert_eq!(sends, due, "every due timer decided to send");
    let meter = meter.lock().unwrap();
    if kind == "dynamodb" {
        println!(
            "{kind:>8}: {due} due among {customers:>7} customers: {} requests ({:.2} per decision) {:?}",
            meter.requests,
            meter.requests as f64 / due as f64,
            meter.operations
        );
        meter.requests as f64
    } else {
        println!(
            "{kind:>8}: {due} due among {customers:>7} customers: tick {:>8.1} ms ({:.0} decisions/s)",
            seconds * 1e3,
            due as f64 / seconds
        );
        seconds
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "sqlite".into());
    let due: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("due: a number"));
    let large: usize = args
        .next()
        .map_or(100_000, |a| a.parse().expect("customers: a number"));
    let small = measure(&kind, due, due).await;
    let big = measure(&kind, due, large).await;
    let what = if kind == "dynamodb" {
        "requests"
    } else {
        "time"
    };
    println!(
        "ratio of tick {what} among {large} / among {due} customers: {:.2}",
        big / small
    );
}

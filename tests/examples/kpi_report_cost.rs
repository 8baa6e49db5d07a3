//! How long the KPI report takes on the embedded store for a year of counters: `--days` days ×
//! `--rules` rules, each rule-day with the counters a busy win-back rule has (queued, sent,
//! receipts, replies, opt-outs, conversions and holdout), read and summed per rule and day
//! with each holdout rule's lift.
//!
//! ```sh
//! cargo run --release -p nudge-tests --example kpi_report_cost -- 365 50
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool: failing loudly is fine

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::ports::{CounterStore, Counters, Store};
use nudge_core::rulebook;
use nudge_core::service::Engine;
use nudge_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: days rules"))
        .collect();
    let days = args.first().copied().unwrap_or(365);
    let rules = args.get(1).copied().unwrap_or(50);
    let book = rulebook::parse(
        include_str!("../../examples/retail-winback.yaml"),
        "retail-winback.yaml",
    )
    .unwrap();
    let tenant = book.tenant.clone();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("nudge.db")).unwrap());
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let last = first + TimeDelta::days(days as i64 - 1);
    let seeded = Instant::now();
    for d in 0..days {
        let day = first + TimeDelta::days(d as i64);
        for r in 0..rules {
            let n = 500 + ((d * 31 + r * 17) % 500) as i64;
            let counters: Counters = [
                ("queued", n),
                ("sent", n),
                ("delivered", n * 96 / 100),
                ("undelivered", n * 3 / 100),
                ("parts", 2 * n),
                ("replied", n / 10),
                ("keyword_Y", n / 20),
                ("free_text", n / 20),
                ("opted_out", n / 300),
                ("converted", n * 12 / 100),
                ("conversion_value_milli", n * 12 / 100 * 49_500),
                ("skipped_holdout", n / 9),
                ("held_out_converted", n / 9 * 8 / 100),
                ("skipped_cap_per_week", n / 25),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
            store
                .add_stats(&tenant, day, &format!("rule-{r:02}"), &counters)
                .await
                .unwrap();
        }
    }
    eprintln!(
        "seeded {} rule-days in {:.1}s",
        days * rules,
        seeded.elapsed().as_secs_f64()
    );
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
    ));
    let store: Arc<dyn Store> = store;
    let engine = Engine::new(store, clock, vec![book]);
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..11 {
        let began = Instant::now();
        let report = engine.kpi_report(&tenant, first, last, None).await.unwrap();
        times.push(began.elapsed().as_secs_f64() * 1000.0);
        listed = report.rules.len();
        assert_eq!(report.days.len(), days);
    }
    let csv_began = Instant::now();
    let csv = engine
        .kpi_report(&tenant, first, last, None)
        .await
        .unwrap()
        .to_csv();
    let csv_ms = csv_began.elapsed().as_secs_f64() * 1000.0;
    times.sort_by(f64::total_cmp);
    println!(
        "KPI report, {days} days × {rules} rules ({listed} listed) on SQLite: median {:.1} ms, \
         slowest {:.1} ms of 11; as CSV ({} rows, {} KB) {csv_ms:.1} ms",
        times[times.len() / 2],
        times[times.len() - 1],
        csv.lines().count() - 1,
        csv.len() / 1024
    );
}

//! `nudge report delivery`: what became of a local store's texts, per rule and in total —
//! sent, delivered, undelivered by reason, awaiting a receipt, the delivery rate, parts and
//! cost — and the numbers given up on as undeliverable (`policy.number_hygiene`).
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args as ClapArgs;
use nudge_core::clock::SystemClock;
use nudge_core::ports::Clock;
use nudge_core::service::{DeliveryReport, DeliverySummary, Engine};
use nudge_sqlite::SqliteStore;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::report::key_values;

#[derive(ClapArgs)]
pub struct Args {
    /// The tenant's rulebook (its rules are the report's first rows).
    #[arg(long)]
    rules: PathBuf,
    /// The store file `nudge dev` wrote.
    #[arg(long, default_value = "nudge.db")]
    db: PathBuf,
    /// First day (YYYY-MM-DD, UTC); defaults to 6 days before --to.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD, UTC), included; defaults to today.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rulebook = super::rules::load_valid(&args.rules)?;
    let tenant = rulebook.tenant.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (from, to) = super::report::report_days(args.from, args.to, clock.now().date_naive())?;
    if !args.db.is_file() {
        bail!("--db {}: no such store file", args.db.display());
    }
    let store = Arc::new(SqliteStore::open(&args.db)?);
    let engine = Engine::new(store, clock, vec![rulebook]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(engine.delivery_report(&tenant, from, to))?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn rate(summary: &DeliverySummary) -> String {
    summary
        .delivery_rate
        .map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

pub fn render(report: &DeliveryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "delivery for {} from {} to {}\n",
        report.tenant, report.from, report.to
    );
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>9} {:>11} {:>8} {:>8} {:>7} {:>9}  undelivered by reason",
        "rule", "sent", "delivered", "undelivered", "waiting", "rate", "parts", "cost usd"
    );
    let total = [("TOTAL", &report.total)];
    let rows = report
        .rules
        .iter()
        .map(|r| (r.rule.as_str(), &r.delivery))
        .chain(total);
    for (rule, d) in rows {
        let _ = writeln!(
            out,
            "{rule:<28} {:>7} {:>9} {:>11} {:>8} {:>8} {:>7} {:>9.4}  {}",
            d.sent,
            d.delivered,
            d.undelivered,
            d.awaiting_receipt,
            rate(d),
            d.parts,
            d.cost_usd,
            key_values(&d.undelivered_by_reason)
        );
    }
    let total = &report.total;
    let given_up: i64 = total.numbers_invalid.values().sum();
    let _ = writeln!(
        out,
        "\nnumbers given up on: {given_up}{}",
        if given_up > 0 {
            format!(" ({})", key_values(&total.numbers_invalid))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "texts skipped for a number given up on: {}",
        total.skipped_number_invalid
    );
    if total.no_receipt > 0 {
        let _ = writeln!(
            out,
            "sent texts without a receipt after 72 h: {}",
            total.no_receipt
        );
    }
    out
}

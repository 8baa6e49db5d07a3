//! `nudge report replies`: the reply report of a local store (what `GET /v1/reports/replies`
//! returns): per rule sent, replies, opt-outs and opt-out rate, keywords, top free-text replies.
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args as ClapArgs;
use nudge_core::clock::SystemClock;
use nudge_core::ports::Clock;
use nudge_core::service::report::MAX_TOP_TEXTS;
use nudge_core::service::{Engine, RepliesReport, RuleReplies};
use nudge_sqlite::SqliteStore;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::report::key_values;

#[derive(ClapArgs)]
pub struct Args {
    /// The tenant's rulebook (its rules are the report's rows).
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
    /// How many free-text replies to list.
    #[arg(long, default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=MAX_TOP_TEXTS as i64))]
    limit: u16,
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
    let report = runtime.block_on(engine.replies_report(&tenant, from, to, args.limit.into()))?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn rate(row: &RuleReplies) -> String {
    row.opt_out_rate
        .map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

pub fn render(report: &RepliesReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "replies for {} from {} to {}\n",
        report.tenant, report.from, report.to
    );
    let _ = writeln!(
        out,
        "{:<28} {:>8} {:>8} {:>9} {:>8} {:>9}  keywords",
        "rule", "sent", "replied", "opted out", "rate", "free text"
    );
    for row in report.rules.iter().chain([&report.total]) {
        let name = if std::ptr::eq(row, &report.total) {
            "TOTAL"
        } else {
            row.rule.as_str()
        };
        let _ = writeln!(
            out,
            "{name:<28} {:>8} {:>8} {:>9} {:>8} {:>9}  {}",
            row.sent,
            row.replied,
            row.opted_out,
            rate(row),
            row.free_text,
            key_values(&row.keywords)
        );
    }
    let _ = writeln!(out, "\ntop free-text replies");
    if report.top_free_text.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for text in &report.top_free_text {
        let _ = writeln!(out, "{:>8}  {}", text.count, text.text);
    }
    out
}

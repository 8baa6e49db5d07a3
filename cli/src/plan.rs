//! `nudge rules plan`: every decision for one customer over a period, as JSON lines.
use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Args as ClapArgs;
use nudge_local::simulation::Simulation;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long)]
    rules: PathBuf,
    /// A JSON file with one customer: {"id","phone","timezone"?,"attributes"?…}.
    #[arg(long)]
    customer: PathBuf,
    /// Start of the period (RFC 3339).
    #[arg(long)]
    from: DateTime<Utc>,
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Events of the customer (JSON lines with occurred_at).
    #[arg(long)]
    events: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rulebook = super::rules::load_valid(&args.rules)?;
    let customer = super::input::load_customer_file(&args.customer, &rulebook)?;
    let events = args
        .events
        .as_deref()
        .map(|path| super::input::load_events(path, &rulebook, std::slice::from_ref(&customer)))
        .transpose()?
        .unwrap_or_default();
    let default_zone = rulebook.timezone;
    let zone = customer
        .timezone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(default_zone);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let simulation = Simulation::new(rulebook, args.from)?;
        simulation.load_customers(vec![customer]).await?;
        simulation.run(events, args.days, |_, _| {}).await
    })?;
    for d in &result.decisions {
        let line = json!({
            "rule": d.rule.as_str(),
            "occurrence": d.occurrence,
            "due_utc": d.due.to_rfc3339(),
            "due_local": d.due.with_timezone(&zone).to_rfc3339(),
            "decided_utc": d.decided_at.to_rfc3339(),
            "outcome": d.outcome.kind(),
            "reason": d.outcome.reason(),
            "until": match &d.outcome {
                nudge_core::service::Outcome::Defer { until, .. } => Some(until.to_rfc3339()),
                _ => None,
            },
            "text": d.outcome.text(),
        });
        crate::outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

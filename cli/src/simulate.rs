//! `nudge simulate`: fast-forward the clock over the real services and report per rule.
use anyhow::Result;
use chrono::{NaiveDate, NaiveTime};
use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressStyle};
use nudge_local::simulation::Simulation;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long)]
    rules: PathBuf,
    /// Customers: CSV (id, phone, timezone, … attribute columns) or JSON lines.
    #[arg(long)]
    customers: PathBuf,
    /// Events: JSON lines, each with occurred_at.
    #[arg(long)]
    events: Option<PathBuf>,
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// First simulated day (UTC midnight); defaults to 2026-01-05.
    #[arg(long)]
    start: Option<NaiveDate>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    receipts: super::receipts::ReceiptArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rulebook = super::rules::load_valid(&args.rules)?;
    let zone = rulebook.timezone;
    let customers = super::input::load_customers(&args.customers, &rulebook)?;
    let events = args
        .events
        .as_deref()
        .map(|path| super::input::load_events(path, &rulebook, &customers))
        .transpose()?
        .unwrap_or_default();
    let start_day = args
        .start
        .unwrap_or(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default());
    let start = start_day.and_time(NaiveTime::MIN).and_utc();
    let plan = args.receipts.plan()?;
    let customer_count = customers.len();
    let progress = ProgressBar::new(u64::from(args.days) * 24 * 60);
    progress.set_style(
        ProgressStyle::with_template("{spinner} simulating {bar:40} {percent}% {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let began = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let simulation = Simulation::with_receipts(rulebook, start, plan)?;
        simulation.load_customers(customers).await?;
        simulation
            .run(events, args.days, |done, total| {
                progress.set_length(total);
                progress.set_position(done);
            })
            .await
    })?;
    progress.finish_and_clear();
    let elapsed = began.elapsed();
    let summary = super::report::Summary::from_result(&result, customer_count, args.days, zone);
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        crate::out!("{}", summary.render());
        crate::outln!(
            "simulated {} day(s) for {} customer(s) in {:.1}s",
            args.days,
            customer_count,
            elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

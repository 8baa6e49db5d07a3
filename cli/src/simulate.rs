//! `nudge simulate`: fast-forward the clock over the real services and report per rule.
use anyhow::Result;
use chrono::{NaiveDate, NaiveTime, TimeDelta};
use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressStyle};
use nudge_core::service::report::MAX_REPORT_DAYS;
use nudge_local::conversion::ConversionModel;
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
    /// Customers convert to a rule's goal: `RULE:TEXTED%:HELDOUT%[:AFTER[:VALUE]]` — the
    /// share of texted and of held-out customers that send the goal event, AFTER the decision
    /// (default 1h, inside the goal window), with VALUE in the goal's value property.
    /// Repeat for more rules.
    #[arg(long, value_name = "MODEL")]
    conversion: Vec<String>,
    /// Properties (a JSON object) of every goal event --conversion makes, for the templates
    /// and conditions that read them, e.g. '{"order_id": "SIM"}'.
    #[arg(long, value_name = "JSON", requires = "conversion", value_parser = json_object)]
    conversion_properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    receipts: super::receipts::ReceiptArgs,
}

fn json_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object, e.g. '{\"order_id\": \"SIM\"}'".into()),
        Err(e) => Err(format!("is not JSON: {e}")),
    }
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
    let conversions = args
        .conversion
        .iter()
        .map(|text| {
            ConversionModel::parse(text, &rulebook)
                .map_err(|e| match e {
                    nudge_core::Error::Invalid { field, message } => {
                        anyhow::anyhow!("--{field}: {message}")
                    }
                    other => other.into(),
                })
                .map(|m| m.with_properties(args.conversion_properties.clone().unwrap_or_default()))
        })
        .collect::<Result<Vec<_>>>()?;
    let tenant = rulebook.tenant.clone();
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
        let simulation =
            Simulation::with_receipts(rulebook, start, plan)?.with_conversions(conversions);
        simulation.load_customers(customers).await?;
        let result = simulation
            .run(events, args.days, |done, total| {
                progress.set_length(total);
                progress.set_position(done);
            })
            .await?;
        // The KPI report covers the run (its last MAX_REPORT_DAYS days when longer).
        let to = result.end.date_naive();
        let from = start_day.max(to - TimeDelta::days(MAX_REPORT_DAYS - 1));
        let kpis = simulation
            .engine()
            .kpi_report(&tenant, from, to, None)
            .await?;
        anyhow::Ok((result, kpis))
    })?;
    let (result, kpis) = result;
    progress.finish_and_clear();
    let elapsed = began.elapsed();
    let mut summary = super::report::Summary::from_result(&result, customer_count, args.days, zone);
    if args.json {
        summary.kpis = Some(kpis);
        crate::outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        crate::out!("{}", summary.render());
        crate::outln!("\n{}", super::kpi_report::render(&kpis, false).trim_end());
        if result.goal_events > 0 {
            crate::outln!(
                "goal events made by the conversion models: {}",
                result.goal_events
            );
        }
        crate::outln!(
            "simulated {} day(s) for {} customer(s) in {:.1}s",
            args.days,
            customer_count,
            elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

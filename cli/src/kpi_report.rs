//! `nudge report kpis`: per rule what the texts did — sent, delivered, replies, opt-outs,
//! conversions and their value — and, for rules with a holdout, the lift over the held-out
//! customers with its 95 % interval and a verdict; from a local store file (`--db`) or the
//! deployed table (`--table`).
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args as ClapArgs;
use nudge_core::clock::SystemClock;
use nudge_core::ports::{Clock, Store};
use nudge_core::service::{Engine, KpiReport, Kpis, Lift};
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::keys::StoreArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// The tenant's rulebook (its rules are the report's first rows).
    #[arg(long)]
    rules: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// First day (YYYY-MM-DD, UTC); defaults to 6 days before --to.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD, UTC), included; defaults to today.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// One rule only.
    #[arg(long)]
    rule: Option<String>,
    /// Also list every rule's days.
    #[arg(long)]
    days: bool,
    /// Print the report as JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print the report as a CSV tracking table (a row per rule and day, then per rule).
    #[arg(long)]
    csv: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rulebook = super::rules::load_valid(&args.rules)?;
    let tenant = rulebook.tenant.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (from, to) = super::report::report_days(args.from, args.to, clock.now().date_naive())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let (store, _place) = args.store.open_existing().await?;
        let store: Arc<dyn Store> = Arc::from(store);
        let engine = Engine::new(store, clock, vec![rulebook]);
        match engine
            .kpi_report(&tenant, from, to, args.rule.as_deref())
            .await
        {
            Err(nudge_core::Error::Invalid { field, message }) => bail!("--{field}: {message}"),
            other => Ok(other?),
        }
    })?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else if args.csv {
        crate::out!("{}", report.to_csv());
    } else {
        crate::out!("{}", render(&report, args.days));
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn row(out: &mut String, label: &str, k: &Kpis) {
    let held = if k.held_out > 0 {
        format!(
            "{:>6} {:>7}",
            k.held_out,
            percent(k.held_out_conversion_rate)
        )
    } else {
        format!("{:>6} {:>7}", "-", "-")
    };
    let _ = writeln!(
        out,
        "{label:<28} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>11.2} {held}",
        k.texted,
        k.sent,
        percent(k.delivery_rate),
        percent(k.response_rate),
        percent(k.opt_out_rate),
        k.converted,
        percent(k.conversion_rate),
        k.conversion_value,
    );
}

/// The table, then one line per rule with a holdout: its lift and verdict.
pub fn render(report: &KpiReport, days: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "KPIs for {} from {} to {}\n",
        report.tenant, report.from, report.to
    );
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>11} {:>6} {:>7}",
        "rule",
        "texted",
        "sent",
        "deliv",
        "reply",
        "optout",
        "conv",
        "conv%",
        "value",
        "held",
        "held%"
    );
    for rule in &report.rules {
        row(&mut out, &rule.rule, &rule.total);
        if days {
            for day in &rule.days {
                row(&mut out, &format!("  {}", day.day), &day.kpis);
            }
        }
    }
    row(&mut out, "TOTAL", &report.total);
    let lifts: Vec<String> = report
        .rules
        .iter()
        .filter_map(|r| {
            let goal = r.goal.as_deref().unwrap_or("no goal");
            r.lift
                .as_ref()
                .map(|lift| format!("{} ({goal}): {}", r.rule, lift_line(lift)))
        })
        .collect();
    if !lifts.is_empty() {
        let _ = writeln!(out, "\nholdout lift (95% confidence):");
        for line in lifts {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// `+4.0 pts [+1.4, +6.6], relative +50% [+15%, +96%]: significant`.
fn lift_line(lift: &Lift) -> String {
    let points = |x: f64| format!("{:+.1}", x * 100.0);
    let mut line = format!(
        "{} pts [{}, {}]",
        points(lift.absolute),
        points(lift.absolute_ci.low),
        points(lift.absolute_ci.high)
    );
    if let (Some(relative), Some(ci)) = (lift.relative, lift.relative_ci) {
        let pct = |x: f64| format!("{:+.0}%", x * 100.0);
        let _ = write!(
            line,
            ", relative {} [{}, {}]",
            pct(relative),
            pct(ci.low),
            pct(ci.high)
        );
    }
    let _ = write!(line, ": {}", lift.verdict.plain());
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_lift_line_gives_points_relative_lift_and_the_verdict() {
        let lift = Lift::of(1000, 120, 1000, 80).unwrap();
        assert_eq!(
            lift_line(&lift),
            "+4.0 pts [+1.4, +6.6], relative +50% [+15%, +96%]: significant"
        );
        let early = Lift::of(100, 12, 100, 0).unwrap();
        assert_eq!(lift_line(&early), "+12.0 pts [+5.6, +18.4]: significant");
    }
}

//! The console provider's delivery receipts, as `nudge dev` and `nudge simulate` make them:
//! every text delivered unless `--fail-rate` or `--fail-numbers` say otherwise.
use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use nudge_core::domain::PhoneNumber;
use nudge_local::console::ReceiptPlan;
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(ClapArgs, Debug, Default)]
pub struct ReceiptArgs {
    /// Share of texts (0–1) the console provider reports undelivered (`unreachable`), chosen
    /// by message id so a run is reproducible.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    fail_rate: f64,
    /// A file of numbers (E.164, one per line, `#` comments) whose texts are reported
    /// undelivered as `invalid_number`.
    #[arg(long)]
    fail_numbers: Option<PathBuf>,
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a share between 0 and 1 (e.g. 0.05)"
        )),
    }
}

impl ReceiptArgs {
    pub fn plan(&self) -> Result<ReceiptPlan> {
        let fail_numbers = match &self.fail_numbers {
            Some(path) => read_numbers(path)?,
            None => HashSet::new(),
        };
        Ok(ReceiptPlan {
            fail_rate: self.fail_rate,
            fail_numbers,
        })
    }
}

/// The numbers of a `--fail-numbers` file; every bad line is reported as `FILE:LINE:COL`.
fn read_numbers(path: &PathBuf) -> Result<HashSet<PhoneNumber>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    let mut numbers = HashSet::new();
    let mut problems = Vec::new();
    for (line, text) in super::input::utf8_lines(&bytes, &name) {
        let text = match text {
            Ok(text) => text,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let content = text.split('#').next().unwrap_or_default();
        let number = content.trim();
        if number.is_empty() {
            continue;
        }
        let column = content.len() - content.trim_start().len() + 1;
        match PhoneNumber::parse(number, None) {
            Ok(phone) => {
                numbers.insert(phone);
            }
            Err(err) => problems.push(format!("{name}:{line}:{column}: {err}")),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} problem(s) in the numbers file:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(numbers)
}

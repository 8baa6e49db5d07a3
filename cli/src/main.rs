//! `nudge`: the command line of the nudge SMS engine.
mod classify;
mod delivery_report;
mod dev;
mod input;
mod keys;
mod kpi_report;
mod listener;
mod plan;
mod receipts;
mod replies_report;
mod reply_sim;
mod report;
mod rules;
mod sign;
mod simulate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nudge",
    version,
    about = "SMS customer-care and retention engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate and explain rulebooks.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Reply handling.
    Reply {
        #[command(subcommand)]
        command: ReplyCommand,
    },
    /// Fast-forward the clock over the real engine and report what would be sent.
    Simulate(simulate::Args),
    /// Serve the HTTP API locally with a 1-second scheduler and a printing outbox.
    Dev(dev::Args),
    /// Create and revoke API keys in a local store file.
    Keys {
        #[command(subcommand)]
        command: keys::Command,
    },
    /// Reports from a local store file.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Print the X-Nudge-Signature header for one request (the secret from an environment
    /// variable).
    Sign(sign::Args),
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Delivery per rule (sent, delivered, undelivered by reason, delivery rate, parts,
    /// cost) and the numbers given up on as undeliverable.
    Delivery(delivery_report::Args),
    /// Replies per rule (sent, replies, opt-outs, opt-out rate, keywords) and the most
    /// frequent free-text replies.
    Replies(replies_report::Args),
    /// KPIs per rule (sent, delivery, response, opt-out and conversion rates, conversion
    /// value) and the lift of rules with a holdout, with its 95% interval and a verdict.
    Kpis(kpi_report::Args),
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rulebook: exit 0 with a summary, or non-zero with every problem.
    Check { file: PathBuf },
    /// Print each decision the engine would take for one customer, in time order (JSON lines).
    Plan(plan::Args),
}

#[derive(Subcommand)]
enum ReplyCommand {
    /// Classify an inbound reply text.
    Classify {
        /// Rulebook whose extra words and reply menus apply.
        #[arg(long)]
        rules: Option<PathBuf>,
        text: String,
    },
    /// Show what nudge would do with a reply (opt-out, keyword, …) on a throwaway store.
    Simulate(reply_sim::Args),
}

/// Writes to stdout; a closed pipe (`nudge … | head`) ends the program quietly instead of
/// panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = write!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(err);
        }
    }};
}

#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(err);
        }
    }};
}

pub fn stdout_failed(err: std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to stdout: {err}");
    std::process::exit(2);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rules {
            command: RulesCommand::Check { file },
        } => rules::check(&file),
        Command::Rules {
            command: RulesCommand::Plan(args),
        } => plan::run(args),
        Command::Reply {
            command: ReplyCommand::Classify { rules, text },
        } => classify::run(rules.as_deref(), &text),
        Command::Reply {
            command: ReplyCommand::Simulate(args),
        } => reply_sim::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Keys { command } => keys::run(command),
        Command::Sign(args) => sign::run(args),
        Command::Report {
            command: ReportCommand::Replies(args),
        } => replies_report::run(args),
        Command::Report {
            command: ReportCommand::Delivery(args),
        } => delivery_report::run(args),
        Command::Report {
            command: ReportCommand::Kpis(args),
        } => kpi_report::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

//! `nudge sign`: the `X-Nudge-Signature` header for one request, for scripts and for
//! checking a client's own signer against nudge's.
use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use nudge_core::clock::SystemClock;
use nudge_core::ports::Clock;
use nudge_http::{sign, SignedRequest};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    /// The request's method (`GET`, `PUT`, `POST`, `DELETE`).
    #[arg(long)]
    method: String,
    /// The route's path with its query, as nudge names it: `/v1/customers/c1`,
    /// `/v1/stats?from=2026-03-01` (no scheme, host or API Gateway stage).
    #[arg(long)]
    path: String,
    /// The file holding the exact body bytes (`-`: standard input). Without it the body is
    /// empty, as for a GET or DELETE.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// The environment variable holding the tenant's webhook secret (kept out of the
    /// command line, where other users of the machine could read it).
    #[arg(long, default_value = "NUDGE_WEBHOOK_SECRET")]
    secret_env: String,
    /// The timestamp to sign at, in Unix seconds (default: now). nudge accepts it within
    /// 5 minutes of its clock, once.
    #[arg(long)]
    at: Option<i64>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let secret = std::env::var(&args.secret_env)
        .with_context(|| format!("set {} to the tenant's webhook secret", args.secret_env))?;
    if secret.is_empty() {
        bail!("{} is empty", args.secret_env);
    }
    let method = args.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        bail!("--method: {:?} is not an HTTP method", args.method);
    }
    if !args.path.starts_with('/') {
        bail!(
            "--path: {:?} must be the route's path starting with /v1/ (no scheme or host)",
            args.path
        );
    }
    let body = match &args.body_file {
        None => Vec::new(),
        Some(path) if path.as_os_str() == "-" => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("reading the body from standard input")?;
            body
        }
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    };
    let at = match args.at {
        Some(at) => at,
        None => SystemClock.now().timestamp(),
    };
    let request = SignedRequest {
        method: &method,
        path_and_query: &args.path,
        body: &body,
    };
    crate::outln!("{}", sign(&secret, at, request));
    Ok(ExitCode::SUCCESS)
}

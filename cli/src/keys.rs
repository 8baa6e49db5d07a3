//! `nudge keys create|revoke`: API keys in a local store file.
use anyhow::{anyhow, bail, Result};
use clap::{Args as ClapArgs, Subcommand};
use nudge_core::adapters::clock::SystemClock;
use nudge_core::adapters::sqlite::SqliteStore;
use nudge_core::domain::{Scope, TenantId};
use nudge_core::http::generate_key;
use nudge_core::ports::{Clock, Store};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Create a key and print it (it is shown once; only its hash is stored).
    Create(CreateArgs),
    /// Revoke a key by its id (the 12 characters after `nk_`).
    Revoke {
        #[arg(long)]
        db: PathBuf,
        id: String,
    },
}

#[derive(ClapArgs)]
pub struct CreateArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long)]
    tenant: String,
    /// Comma-separated: customers:write, events:write, read, admin.
    #[arg(long, value_delimiter = ',', required = true)]
    scopes: Vec<String>,
    /// Comma-separated regions; the key then sees and writes only those customers.
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    #[arg(long)]
    label: Option<String>,
}

pub fn run(command: Command) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::Create(args) => create(args).await,
            Command::Revoke { db, id } => revoke(db, &id).await,
        }
    })
}

fn parse_scopes(names: &[String]) -> Result<Vec<Scope>> {
    names
        .iter()
        .map(|name| {
            Scope::parse(name.trim()).ok_or_else(|| {
                let valid: Vec<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
                anyhow!("unknown scope {name:?} (valid: {})", valid.join(", "))
            })
        })
        .collect()
}

async fn create(args: CreateArgs) -> Result<ExitCode> {
    let tenant = TenantId::parse(args.tenant)?;
    let scopes = parse_scopes(&args.scopes)?;
    let regions: Vec<String> = args
        .regions
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    let store = SqliteStore::open(&args.db)?;
    let (full, key) = generate_key(tenant, scopes, regions, args.label, SystemClock.now())?;
    store.put_api_key(&key).await?;
    eprintln!(
        "created key {} for tenant {} (scopes: {}{}); it is shown once:",
        key.id,
        key.tenant,
        args.scopes.join(","),
        if key.regions.is_empty() {
            String::new()
        } else {
            format!("; regions: {}", key.regions.join(","))
        }
    );
    crate::outln!("{full}");
    Ok(ExitCode::SUCCESS)
}

async fn revoke(db: PathBuf, id: &str) -> Result<ExitCode> {
    let store = SqliteStore::open(&db)?;
    let Some(mut key) = store.get_api_key(id).await? else {
        bail!("no key {id} in {}", db.display());
    };
    if key.revoked_at.is_some() {
        crate::outln!("key {id} was already revoked");
        return Ok(ExitCode::SUCCESS);
    }
    key.revoked_at = Some(SystemClock.now());
    store.put_api_key(&key).await?;
    crate::outln!("revoked key {id}");
    Ok(ExitCode::SUCCESS)
}

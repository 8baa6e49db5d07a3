//! `nudge keys create|revoke`: API keys in a local store file (`--db`, for `nudge dev`) or in
//! the deployed DynamoDB table (`--table`, for the ingest function).
use anyhow::{anyhow, bail, Result};
use clap::{Args as ClapArgs, Subcommand};
use nudge_aws::sdk_config;
use nudge_core::clock::SystemClock;
use nudge_core::domain::{Scope, TenantId};
use nudge_core::ports::{Clock, Store};
use nudge_dynamodb::DynamoStore;
use nudge_http::generate_key;
use nudge_sqlite::SqliteStore;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Create a key and print it (it is shown once; only its hash is stored).
    Create(CreateArgs),
    /// Revoke a key by its id (the 12 characters after `nk_`).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
}

/// Where the keys live: exactly one of `--db` and `--table`.
#[derive(ClapArgs)]
#[group(required = true, multiple = false)]
pub struct StoreArgs {
    /// The local store file of `nudge dev`.
    #[arg(long)]
    db: Option<PathBuf>,
    /// The deployed DynamoDB table (the stack's `TableName` output). The AWS region and
    /// credentials come from the environment (`AWS_REGION`, `AWS_PROFILE`, …).
    #[arg(long)]
    table: Option<String>,
}

impl StoreArgs {
    /// Opens a store that must exist already: a report of a mistyped file name must not
    /// create an empty store and report nothing.
    pub async fn open_existing(&self) -> Result<(Box<dyn Store>, String)> {
        if let Some(db) = &self.db {
            if !db.is_file() {
                bail!("--db {}: no such store file", db.display());
            }
        }
        self.open().await
    }

    async fn open(&self) -> Result<(Box<dyn Store>, String)> {
        match (&self.db, &self.table) {
            (Some(db), _) => Ok((Box::new(SqliteStore::open(db)?), db.display().to_string())),
            (None, Some(table)) => {
                let sdk = sdk_config().await?;
                let client = aws_sdk_dynamodb::Client::new(&sdk);
                Ok((
                    Box::new(DynamoStore::new(client, table.clone())),
                    format!("table {table}"),
                ))
            }
            (None, None) => bail!("give --db FILE or --table NAME"),
        }
    }
}

#[derive(ClapArgs)]
pub struct CreateArgs {
    #[command(flatten)]
    store: StoreArgs,
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
            Command::Revoke { store, id } => revoke(&store, &id).await,
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
    let (store, _) = args.store.open().await?;
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

async fn revoke(store: &StoreArgs, id: &str) -> Result<ExitCode> {
    let (store, place) = store.open().await?;
    let Some(mut key) = store.get_api_key(id).await? else {
        bail!("no key {id} in {place}");
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

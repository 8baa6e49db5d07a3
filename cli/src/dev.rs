//! `nudge dev`: the HTTP API on 127.0.0.1 over a SQLite file, a 1-second scheduler and an
//! outbox that prints texts (and appends them to a JSONL file) instead of sending them.
use crate::listener::{CheckedListener, HeadLimits};
use anyhow::{Context, Result};
use async_trait::async_trait;
use clap::Args as ClapArgs;
use nudge_core::clock::SystemClock;
use nudge_core::domain::{DeliveryOutcome, Scope, TenantId};
use nudge_core::ports::{ApiKeyStore, Clock, OutgoingText, SendError, Sent, SmsSender};
use nudge_core::rulebook::Trigger;
use nudge_core::service::{Engine, Outbox, Receipts};
use nudge_http::keys::{parse_key, secret_matches};
use nudge_http::{generate_key, router, AppState, HttpConfig};
use nudge_local::console::{ConsolePublisher, ConsoleSender, Format, ReceiptPlan};
use nudge_sqlite::SqliteStore;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Most texts the outbox sends per second.
const SENDS_PER_SECOND: usize = 1000;

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long)]
    rules: PathBuf,
    /// The store file (created if missing).
    #[arg(long, default_value = "nudge.db")]
    db: PathBuf,
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Also append every text as a JSON line to this file.
    #[arg(long)]
    outbox: Option<PathBuf>,
    /// The URL Twilio and other providers call this server at (e.g. a tunnel's
    /// `https://….ngrok.app`); Twilio signs that URL. Default: the request's Host header.
    #[arg(long)]
    public_url: Option<String>,
    /// The tenant's Twilio auth token: enables `POST /v1/inbound/twilio`.
    #[arg(long)]
    twilio_auth_token: Option<String>,
    /// The tenant's Tencent Cloud SMS callback token: enables
    /// `POST /v1/callbacks/tencent/{tenant}/status` and `/reply` (`?token=` it).
    #[arg(long)]
    tencent_callback_token: Option<String>,
    /// The tenant's webhook secret: every request must then be signed with it
    /// (`X-Nudge-Signature`), and `POST /v1/inbound/generic` is enabled.
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Seconds a client has to send its request head, and then its body (408 after).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    read_timeout: u64,
    #[command(flatten)]
    receipts: super::receipts::ReceiptArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rulebook = super::rules::load_valid(&args.rules)?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, rulebook))
}

async fn serve(args: Args, rulebook: nudge_core::rulebook::Rulebook) -> Result<ExitCode> {
    let store = Arc::new(SqliteStore::open(&args.db)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tenant = rulebook.tenant.clone();
    let example_event = rulebook
        .rules
        .iter()
        .find_map(|r| match &r.trigger {
            Trigger::Event { event_type, .. } => Some(event_type.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "order.paid".into());
    let key = dev_key(&store, &tenant, clock.as_ref()).await?;
    let engine = Arc::new(Engine::new(store, clock.clone(), vec![rulebook]));
    let plan = args.receipts.plan()?;
    let sender = Arc::new(DevSender::new(args.outbox.as_ref(), plan, clock.clone())?);
    let outbox = Outbox::new(
        engine.clone(),
        sender.clone(),
        Arc::new(ConsolePublisher::discard()),
    );
    let receipts = Receipts::new(engine.clone(), Arc::new(ConsolePublisher::discard()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let base = format!("http://{}", listener.local_addr()?);
    print_banner(&base, &tenant, &key, &example_event, &args);
    let read_timeout = Duration::from_secs(args.read_timeout);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(run_scheduler(
        engine.clone(),
        outbox,
        Delivery { sender, receipts },
        stopped,
    ));
    let config = HttpConfig {
        webhook_secrets: args
            .webhook_secret
            .iter()
            .map(|s| (tenant.clone(), s.clone()))
            .collect(),
        twilio_auth_tokens: args
            .twilio_auth_token
            .iter()
            .map(|t| (tenant.clone(), t.clone()))
            .collect(),
        tencent_callback_tokens: args
            .tencent_callback_token
            .iter()
            .map(|t| (tenant.clone(), t.clone()))
            .collect(),
        public_base_url: args.public_url.clone(),
        body_read_timeout: read_timeout,
    };
    // Reply events (opt-outs, keywords, free text) are printed as JSON lines.
    let publisher = Arc::new(ConsolePublisher::new(Box::new(std::io::stdout())));
    // One request per connection, so that every request head passes the listener's checks.
    let app = router(AppState::new(engine, config, publisher)).layer(
        axum::middleware::map_response(|mut response: axum::response::Response| async move {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }),
    );
    let listener = CheckedListener::new(listener, HeadLimits::with_read_timeout(read_timeout))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %err, "cannot listen for Ctrl-C");
            }
        })
        .await?;
    let _ = stop.send(true);
    scheduler.await?;
    crate::outln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The tenant's development admin key: the one kept in the store file if it is still valid,
/// else a new one (kept in clear in the file: this is a local development database).
async fn dev_key(store: &SqliteStore, tenant: &TenantId, clock: &dyn Clock) -> Result<String> {
    let setting = format!("dev_key:{tenant}");
    if let Some(existing) = store.local_setting(&setting)? {
        if let Some((id, secret)) = parse_key(&existing) {
            if let Some(key) = store.get_api_key(id).await? {
                if key.revoked_at.is_none() && key.tenant == *tenant && secret_matches(&key, secret)
                {
                    return Ok(existing);
                }
            }
        }
    }
    let (full, key) = generate_key(
        tenant.clone(),
        vec![Scope::Admin],
        Vec::new(),
        Some("nudge dev".into()),
        clock.now(),
    )?;
    store.put_api_key(&key).await?;
    store.set_local_setting(&setting, &full)?;
    Ok(full)
}

fn print_banner(base: &str, tenant: &TenantId, key: &str, event_type: &str, args: &Args) {
    crate::outln!("nudge dev — tenant {tenant}, store {}", args.db.display());
    crate::outln!("API on {base}  (admin key for {tenant}: {key})");
    if let Some(path) = &args.outbox {
        crate::outln!("texts are printed here and appended to {}", path.display());
    }
    crate::outln!("\ntry:\n");
    crate::outln!(
        "export NUDGE_KEY={key}\n\
         curl -s -X PUT {base}/v1/customers/c1 -H \"Authorization: Bearer $NUDGE_KEY\" \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -d '{{\"phone\": \"+8613800138000\", \"attributes\": {{\"name\": \"王芳\"}}}}'\n\
         curl -s -X POST {base}/v1/events -H \"Authorization: Bearer $NUDGE_KEY\" \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -d '{{\"event_id\": \"e1\", \"customer_id\": \"c1\", \"type\": \"{event_type}\"}}'\n\
         curl -s {base}/v1/customers/c1/messages -H \"Authorization: Bearer $NUDGE_KEY\"\n"
    );
    crate::outln!("Ctrl-C stops.");
}

/// The console provider's receipts and where they are recorded.
struct Delivery {
    sender: Arc<DevSender>,
    receipts: Receipts<SqliteStore>,
}

impl Delivery {
    /// Records the receipts of what was just sent (after its `sent` result, as a provider's
    /// would come) and prints the undelivered ones.
    async fn record(&self) -> anyhow::Result<()> {
        for receipt in self.sender.console.take_receipts()? {
            self.receipts.record(&receipt).await?;
            if let DeliveryOutcome::Undelivered(reason) = receipt.outcome {
                crate::outln!("UNDELIVERED {} ({reason})", receipt.provider_id);
            }
        }
        Ok(())
    }
}

/// Every second: decide the due timers, send what is queued, record the receipts.
async fn run_scheduler(
    engine: Arc<Engine<SqliteStore>>,
    outbox: Outbox<SqliteStore>,
    delivery: Delivery,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every_second.tick() => {}
            _ = stopped.changed() => return,
        }
        match engine.tick().await {
            Ok(report) => {
                for d in report
                    .decisions
                    .iter()
                    .filter(|d| d.outcome.kind() != "send")
                {
                    crate::outln!(
                        "DECIDED {} for {}: {} ({})",
                        d.rule,
                        d.customer_id,
                        d.outcome.kind(),
                        d.outcome.reason().unwrap_or_default()
                    );
                }
            }
            Err(err) => tracing::error!(error = %err, "scheduler tick failed"),
        }
        // What a killed run was holding is settled before the queue is sent.
        match outbox.reconcile_leases(SENDS_PER_SECOND).await {
            Ok(leases) if !leases.is_empty() => {
                tracing::warn!(?leases, "settled texts whose sender stopped");
            }
            Ok(_) => {}
            Err(err) => tracing::error!(error = %err, "settling send leases failed"),
        }
        if let Err(err) = outbox.settle_unreceipted(SENDS_PER_SECOND).await {
            tracing::error!(error = %err, "settling texts without a receipt failed");
        }
        if let Err(err) = outbox.send_due(SENDS_PER_SECOND).await {
            tracing::error!(error = %err, "outbox failed");
        }
        if let Err(err) = delivery.record().await {
            tracing::error!(error = %err, "recording receipts failed");
        }
    }
}

/// Prints each text to stdout and, if asked, appends it as JSON to a file.
struct DevSender {
    console: ConsoleSender,
    file: Option<ConsoleSender>,
}

impl DevSender {
    fn new(path: Option<&PathBuf>, plan: ReceiptPlan, clock: Arc<dyn Clock>) -> Result<Self> {
        let file = path
            .map(|p| -> Result<ConsoleSender> {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("cannot open {}", p.display()))?;
                Ok(ConsoleSender::new(Box::new(f), Format::JsonLines))
            })
            .transpose()?;
        Ok(DevSender {
            console: ConsoleSender::stdout().with_receipts(plan, clock),
            file,
        })
    }
}

#[async_trait]
impl SmsSender for DevSender {
    async fn send(&self, text: &OutgoingText<'_>) -> std::result::Result<Sent, SendError> {
        let sent = self.console.send(text).await?;
        if let Some(file) = &self.file {
            file.send(text).await?;
        }
        Ok(sent)
    }
}

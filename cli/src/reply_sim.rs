//! `nudge reply simulate`: what nudge would do with one inbound reply, on a throwaway store.
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args as ClapArgs;
use nudge_core::domain::{CustomerId, Message, MessageId, MessageStatus, PhoneNumber, RuleId};
use nudge_core::ports::{Counters, CustomerStore, MessageStore, Store, SuppressionList};
use nudge_core::service::{message_id, CustomerInput, InboundSms};
use nudge_local::simulation::Simulation;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long)]
    rules: PathBuf,
    /// The sender's number.
    #[arg(long)]
    from: String,
    /// The customer who owns the number (JSON); without it the sender is unknown.
    #[arg(long)]
    customer: Option<PathBuf>,
    /// The rule whose text the customer is answering (sent just before the reply).
    #[arg(long)]
    after: Option<String>,
    /// When the reply arrives (RFC 3339); defaults to 2026-01-05T02:00:00Z.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    text: String,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let rulebook = super::rules::load_valid(&args.rules)?;
    let tenant = rulebook.tenant.clone();
    let region = rulebook.phone_region.clone();
    let customer: Option<CustomerInput> = match &args.customer {
        Some(path) => {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{name}:{}:{}: {e}", e.line(), e.column()))?,
            )
        }
        None => None,
    };
    if let Some(rule) = &args.after {
        if rulebook.rule(&RuleId::parse(rule.clone())?).is_none() {
            anyhow::bail!("--after: the rulebook has no rule {rule:?}");
        }
    }
    let at = args
        .at
        .unwrap_or_else(|| DateTime::from_timestamp(1_767_578_400, 0).unwrap_or_default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let simulation = Simulation::new(rulebook, at)?;
        let engine = simulation.engine();
        let mut answered = None;
        if let Some(input) = customer {
            let customer = engine.upsert_customer(&tenant, input).await?;
            if let Some(rule) = &args.after {
                let rule = RuleId::parse(rule.clone())?;
                let key = Message::dedupe_key(&rule, &customer.id, "simulated");
                let message = Message {
                    tenant: tenant.clone(),
                    id: MessageId::parse(message_id("m", &key))?,
                    customer_id: customer.id.clone(),
                    category: engine
                        .rulebook(&tenant)?
                        .rule(&rule)
                        .map(|r| r.category)
                        .unwrap_or(nudge_core::domain::Category::Care),
                    rule,
                    occurrence: "simulated".into(),
                    phone: customer.phone.clone(),
                    text: String::new(),
                    template: None,
                    segments: 1,
                    status: MessageStatus::Sent,
                    reason: None,
                    created_at: at,
                    updated_at: at,
                    provider: None,
                    provider_id: Some("simulated".into()),
                    sent_at: None,
                    delivery: None,
                    attempts: 1,
                    next_attempt_at: None,
                    lease_until: None,
                    ignores_suppression: false,
                };
                engine
                    .store()
                    .queue_message(&message, &Counters::new())
                    .await?;
                answered = Some(message.id);
            }
        }
        let sms = InboundSms {
            from: args.from.clone(),
            to: "simulated".into(),
            body: args.text.clone(),
            provider_id: "reply-1".into(),
            in_reply_to: answered.is_some().then(|| "simulated".to_string()),
        };
        let publisher = nudge_local::console::ConsolePublisher::discard();
        let report = engine.handle_reply(&tenant, sms, &publisher).await?;
        let phone = PhoneNumber::parse(&args.from, region.as_deref())?;
        let answers: Vec<String> = match engine
            .store()
            .find_customer_by_phone(&tenant, &phone)
            .await?
        {
            Some(c) => answers(engine.store().as_ref(), &tenant, &c.id).await?,
            None => {
                answers(
                    engine.store().as_ref(),
                    &tenant,
                    &CustomerId::parse(format!("~{phone}"))?,
                )
                .await?
            }
        };
        let suppressed = engine.store().is_suppressed(&tenant, &phone).await?;
        Ok::<_, nudge_core::Error>(
            json!({"reply": report, "answers": answers, "suppressed": suppressed}),
        )
    })?;
    crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Texts queued in answer to the reply (confirmations, help, auto-answers).
async fn answers(
    store: &dyn Store,
    tenant: &nudge_core::domain::TenantId,
    id: &CustomerId,
) -> nudge_core::Result<Vec<String>> {
    let messages = store.customer_messages(tenant, id, 20).await?;
    Ok(messages
        .into_iter()
        .filter(|m| m.status == MessageStatus::Queued && m.rule.as_str().starts_with("reply."))
        .map(|m| m.text)
        .collect())
}

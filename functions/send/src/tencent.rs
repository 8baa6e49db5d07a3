//! The Tencent Cloud accounts of a deployment that sends through Tencent Cloud SMS: one AWS
//! Secrets Manager secret (its id or ARN in `TENCENT_ACCOUNTS_SECRET`) holding every tenant's
//! account as `nudge_tencent::parse_accounts` reads it, fetched once at cold start. Every
//! tenant with a rulebook must have an account, so a missing one stops the function at start
//! instead of failing its texts one by one.
use aws_config::SdkConfig;

use nudge_aws::provider_error;
use nudge_core::error::{Error, Result};
use nudge_core::rulebook::Rulebook;
use nudge_tencent::{parse_accounts, TencentSenders};

/// The variable naming the secret.
pub const TENCENT_ACCOUNTS_SECRET_VAR: &str = "TENCENT_ACCOUNTS_SECRET";

/// Reads the accounts secret and builds one sender per tenant; checks that every rulebook's
/// tenant has an account.
pub async fn tencent_senders(
    sdk: &SdkConfig,
    secret_id: &str,
    rulebooks: &[&Rulebook],
) -> Result<TencentSenders> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let secret = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| provider_error("secretsmanager", &err))?;
    let json = secret.secret_string().ok_or_else(|| {
        Error::Config(format!(
            "{TENCENT_ACCOUNTS_SECRET_VAR}: secret {secret_id} has no SecretString (store the accounts JSON as text)"
        ))
    })?;
    let senders = TencentSenders::new(parse_accounts(json, &format!("secret {secret_id}"))?)?;
    for book in rulebooks {
        if !senders.has(&book.tenant) {
            return Err(Error::Config(format!(
                "secret {secret_id} has no Tencent account for tenant {}",
                book.tenant
            )));
        }
    }
    Ok(senders)
}

//! Tencent Cloud accounts per tenant: each tenant sends from its own SMS app, under its own
//! approved signature, with its own credentials. Production keeps them in one AWS Secrets
//! Manager secret (the send function reads it once at cold start); locally they come from a
//! file. Both hold the same JSON:
//!
//! ```json
//! {"acme": {"secret_id": "AKID…", "secret_key": "…", "sms_sdk_app_id": "1400006666",
//!           "sign_name": "阿克米", "region": "ap-guangzhou"}}
//! ```
//!
//! `region` (default `ap-guangzhou`) and `endpoint` (default the public API) are optional.
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

use nudge_core::domain::TenantId;
use nudge_core::error::Error;
use nudge_core::ports::{OutgoingText, SendError, Sent, SmsSender};

use super::{TencentConfig, TencentSender, DEFAULT_REGION, ENDPOINT};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    secret_id: String,
    secret_key: String,
    sms_sdk_app_id: String,
    sign_name: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
}

/// Reads the accounts JSON; `source` names where it came from in errors (a file, a secret),
/// which name the tenant and the field, never a credential.
pub fn parse_accounts(json: &str, source: &str) -> Result<HashMap<TenantId, TencentConfig>, Error> {
    // A BTreeMap keeps the first problem reported stable.
    let raw: BTreeMap<String, AccountFile> = serde_json::from_str(json).map_err(|e| {
        // serde's message names the missing or unknown field, never a value.
        let what = e.to_string();
        let what = what.split(" at line").next().unwrap_or("invalid JSON");
        Error::Config(format!(
            "{source}:{}:{}: Tencent accounts: {what} (expected {{\"<tenant>\": {{\"secret_id\", \"secret_key\", \"sms_sdk_app_id\", \"sign_name\", \"region\"?, \"endpoint\"?}}}})",
            e.line(),
            e.column().max(1)
        ))
    })?;
    let mut accounts = HashMap::with_capacity(raw.len());
    for (tenant, account) in raw {
        let id = TenantId::parse(tenant.clone())
            .map_err(|_| Error::Config(format!("{source}: {tenant:?} is not a tenant id")))?;
        let fields = [
            ("secret_id", &account.secret_id),
            ("secret_key", &account.secret_key),
            ("sms_sdk_app_id", &account.sms_sdk_app_id),
            ("sign_name", &account.sign_name),
        ];
        for (field, value) in fields {
            if value.trim().is_empty() {
                return Err(Error::Config(format!(
                    "{source}: {tenant}.{field} is empty"
                )));
            }
        }
        if !account.sms_sdk_app_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::Config(format!(
                "{source}: {tenant}.sms_sdk_app_id must be the SMS app's digits (e.g. 1400006666)"
            )));
        }
        let mut config = TencentConfig::new(
            account.secret_id,
            account.secret_key,
            account.sms_sdk_app_id,
            account.sign_name,
        );
        config.region = account.region.unwrap_or_else(|| DEFAULT_REGION.into());
        config.endpoint = account.endpoint.unwrap_or_else(|| ENDPOINT.into());
        accounts.insert(id, config);
    }
    Ok(accounts)
}

/// Sends each tenant's texts through that tenant's Tencent account.
#[derive(Clone, Debug)]
pub struct TencentSenders {
    senders: HashMap<TenantId, TencentSender>,
}

impl TencentSenders {
    /// One sender per account; fails on an endpoint that is not a URL.
    pub fn new(accounts: HashMap<TenantId, TencentConfig>) -> Result<Self, Error> {
        let mut senders = HashMap::with_capacity(accounts.len());
        for (tenant, config) in accounts {
            senders.insert(tenant, TencentSender::new(config)?);
        }
        Ok(TencentSenders { senders })
    }

    /// Whether `tenant` has an account (checked for every rulebook at start).
    pub fn has(&self, tenant: &TenantId) -> bool {
        self.senders.contains_key(tenant)
    }
}

#[async_trait]
impl SmsSender for TencentSenders {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        match self.senders.get(text.tenant) {
            Some(sender) => sender.send(text).await,
            // Checked at start for the rulebooks of the deployment; a text of another tenant
            // cannot go out from anyone's account.
            None => Err(SendError::permanent(format!(
                "tencent: tenant {} has no Tencent account",
                text.tenant
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ACCOUNTS: &str = r#"{
      "acme": {"secret_id": "AKIDacme", "secret_key": "acme-key-0123", "sms_sdk_app_id": "1400006666", "sign_name": "阿克米"},
      "fresh": {"secret_id": "AKIDfresh", "secret_key": "fresh-key-0123", "sms_sdk_app_id": "1400007777", "sign_name": "鲜果", "region": "ap-beijing", "endpoint": "http://127.0.0.1:9"}
    }"#;

    #[test]
    fn accounts_per_tenant_with_defaults() {
        let accounts = parse_accounts(ACCOUNTS, "accounts.json").unwrap();
        let acme = &accounts[&TenantId::parse("acme").unwrap()];
        assert_eq!(acme.sign_name, "阿克米");
        assert_eq!(acme.region, DEFAULT_REGION);
        assert_eq!(acme.endpoint, ENDPOINT);
        let fresh = &accounts[&TenantId::parse("fresh").unwrap()];
        assert_eq!(
            (fresh.region.as_str(), fresh.endpoint.as_str()),
            ("ap-beijing", "http://127.0.0.1:9")
        );
        let senders = TencentSenders::new(accounts).unwrap();
        assert!(senders.has(&TenantId::parse("acme").unwrap()));
        assert!(!senders.has(&TenantId::parse("other").unwrap()));
    }

    #[test]
    fn bad_accounts_name_the_place_and_field_never_a_secret() {
        let missing = r#"{"acme": {"secret_id": "AKIDacme", "secret_key": "s3cr3t-value",
            "sign_name": "阿克米"}}"#;
        let err = parse_accounts(missing, "secret nudge/tencent")
            .unwrap_err()
            .to_string();
        assert!(err.contains("secret nudge/tencent:"), "{err}");
        assert!(err.contains("sms_sdk_app_id"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let empty = r#"{"acme": {"secret_id": "AKIDacme", "secret_key": " ",
            "sms_sdk_app_id": "1400006666", "sign_name": "阿克米"}}"#;
        let err = parse_accounts(empty, "a.json").unwrap_err().to_string();
        assert!(err.contains("acme.secret_key is empty"), "{err}");
        let digits = r#"{"acme": {"secret_id": "AKIDacme", "secret_key": "k",
            "sms_sdk_app_id": "app-1", "sign_name": "阿克米"}}"#;
        let err = parse_accounts(digits, "a.json").unwrap_err().to_string();
        assert!(err.contains("acme.sms_sdk_app_id"), "{err}");
        let tenant = r#"{"": {"secret_id": "a", "secret_key": "k",
            "sms_sdk_app_id": "1", "sign_name": "s"}}"#;
        assert!(parse_accounts(tenant, "a.json")
            .unwrap_err()
            .to_string()
            .contains("not a tenant id"));
        let err = parse_accounts("[1, 2]", "a.json").unwrap_err().to_string();
        assert!(err.starts_with("configuration error: a.json:1:1:"), "{err}");
    }
}

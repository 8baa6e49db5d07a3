//! The functions' configuration, read once at cold start from environment variables.
//!
//! | variable | used by | meaning |
//! |---|---|---|
//! | `TABLE_NAME` | all | the DynamoDB table (required) |
//! | `RULEBOOK_PATH` | all | a rulebook file, or a directory of `*.yaml` rulebooks (one per tenant), bundled with the function |
//! | `RULEBOOK` | all | the rulebook YAML itself (instead of `RULEBOOK_PATH`; exactly one of the two) |
//! | `EVENT_BUS_NAME` | all | the EventBridge bus for `message.*` events (required) |
//! | `SMS_SENDER_ID` | evaluate, send | SNS `AWS.SNS.SMS.SenderID` (optional) |
//! | `SMS_MAX_PRICE` | evaluate, send | SNS `AWS.SNS.SMS.MaxPrice` in USD (optional) |
//! | `SNS_CHECK_OPT_OUT` | evaluate, send, inbound, ingest | `true` (default) to ask SNS before each text whether the number is on the account's opt-out list (SNS accepts and drops texts to such numbers), and to take a number that opts in by reply off that list (`OptInPhoneNumber`); `false` saves those calls where the account's list is known to stay empty |
//! | `SMS_PROVIDER` | evaluate, send | who sends the texts: `sns` (default), `eum` (AWS End User Messaging SMS) or `tencent` (Tencent Cloud SMS) |
//! | `TENCENT_ACCOUNTS_SECRET` | evaluate, send | with `tencent`: the Secrets Manager secret (id or ARN) holding every tenant's Tencent Cloud account as JSON (see `nudge_tencent::parse_accounts`) |
//! | `EUM_CONFIGURATION_SET` | evaluate, send | EUM: the configuration set whose event destination reports each text's outcome (without one, EUM texts get no receipts) |
//! | `EUM_ORIGINATION_IDENTITY` | evaluate, send | EUM: the phone number, pool, sender id (or its id or ARN) of texts whose tenant names no `sender:`; unset lets EUM choose |
//! | `EUM_OPT_OUT_LIST` | inbound, ingest | EUM: the opt-out list an opt-in reply (START) deletes the number from (default `Default`, the list numbers use unless given another) |
//! | `EUM_MAX_PRICE` | evaluate, send | EUM `MaxPrice` in USD (optional) |
//! | `EUM_TIME_TO_LIVE_SECONDS` | evaluate, send | EUM `TimeToLive` of care and marketing texts, 5 to 259200 (optional; EUM's default is 72 h, and transactional texts always keep it) |
//! | `SEND_MPS` | evaluate, send | messages per second (per stream shard, and for the retry sweep); `0` = no limit (default 20) |
//! | `RETRY_SWEEP` | evaluate | `true` (default) to also settle texts whose sender's lease ended and send queued retries whose backoff elapsed (with `false`, held texts of a crashed send are never settled) |
//! | `WEBHOOK_SECRETS` | ingest | tenants whose requests must be signed: see the ingest function |
//!
//! The AWS region and endpoint come from the standard variables (`AWS_REGION`,
//! `AWS_ENDPOINT_URL`), read by `aws-config`.
use std::path::{Path, PathBuf};

use nudge_core::error::{Error, Result};
use nudge_core::rulebook::{self, Rulebook};

pub const DEFAULT_SEND_MPS: u32 = 20;

/// The time to live EUM accepts, in seconds (5 s to 72 h).
pub const EUM_TIME_TO_LIVE_SECONDS: std::ops::RangeInclusive<u32> = 5..=259_200;

/// Who sends a deployment's texts. Each provider is one variant, and the send crate builds
/// its sender in one match arm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmsProvider {
    /// Amazon SNS `Publish` (receipts from its delivery-status logs).
    #[default]
    Sns,
    /// AWS End User Messaging SMS `SendTextMessage` (receipts from its configuration set's
    /// events).
    Eum,
    /// Tencent Cloud SMS `SendSms`, each tenant from its own account (receipts and replies
    /// from its callbacks on the HTTP API).
    Tencent,
}

impl SmsProvider {
    pub const ALL: [SmsProvider; 3] = [SmsProvider::Sns, SmsProvider::Eum, SmsProvider::Tencent];

    /// The name `SMS_PROVIDER` gives it.
    pub fn name(self) -> &'static str {
        match self {
            SmsProvider::Sns => "sns",
            SmsProvider::Eum => "eum",
            SmsProvider::Tencent => "tencent",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        SmsProvider::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What the EUM sender sends every text with (see the table above).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EumConfig {
    pub configuration_set: Option<String>,
    pub origination_identity: Option<String>,
    pub max_price: Option<String>,
    pub time_to_live_seconds: Option<u32>,
    /// The opt-out list an opt-in reply deletes the number from (`Default` when unset).
    pub opt_out_list: Option<String>,
}

/// Where the rulebooks come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulebookSource {
    Path(PathBuf),
    Inline(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub rulebooks: RulebookSource,
    pub event_bus_name: String,
    pub sms_sender_id: Option<String>,
    pub sms_max_price: Option<String>,
    pub sns_check_opt_out: bool,
    pub sms_provider: SmsProvider,
    pub eum: EumConfig,
    /// The Secrets Manager secret (id or ARN) of the tenants' Tencent Cloud accounts;
    /// required with `SMS_PROVIDER=tencent`.
    pub tencent_accounts_secret: Option<String>,
    pub send_mps: u32,
    pub retry_sweep: bool,
}

impl Config {
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests). Empty
    /// values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required =
            |name: &str| get(name).ok_or_else(|| Error::Config(format!("{name} is not set")));
        let rulebooks = match (get("RULEBOOK_PATH"), get("RULEBOOK")) {
            (Some(path), None) => RulebookSource::Path(PathBuf::from(path)),
            (None, Some(yaml)) => RulebookSource::Inline(yaml),
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "set either RULEBOOK_PATH or RULEBOOK, not both".into(),
                ))
            }
            (None, None) => {
                return Err(Error::Config(
                    "RULEBOOK_PATH or RULEBOOK must be set".into(),
                ))
            }
        };
        let send_mps = match get("SEND_MPS") {
            None => DEFAULT_SEND_MPS,
            Some(text) => text.trim().parse().map_err(|_| {
                Error::Config(format!("SEND_MPS must be a whole number, not {text:?}"))
            })?,
        };
        let flag = |name: &str| match get(name).as_deref().map(str::trim) {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(other) => Err(Error::Config(format!(
                "{name} must be true or false, not {other:?}"
            ))),
        };
        let sms_provider = match get("SMS_PROVIDER") {
            None => SmsProvider::default(),
            Some(text) => SmsProvider::from_name(text.trim()).ok_or_else(|| {
                let names: Vec<&str> = SmsProvider::ALL.iter().map(|p| p.name()).collect();
                Error::Config(format!(
                    "SMS_PROVIDER must be one of {}, not {text:?}",
                    names.join(", ")
                ))
            })?,
        };
        let time_to_live_seconds = get("EUM_TIME_TO_LIVE_SECONDS")
            .map(|text| match text.trim().parse::<u32>() {
                Ok(seconds) if EUM_TIME_TO_LIVE_SECONDS.contains(&seconds) => Ok(seconds),
                _ => Err(Error::Config(format!(
                    "EUM_TIME_TO_LIVE_SECONDS must be a whole number of seconds from {} to {}, not {text:?}",
                    EUM_TIME_TO_LIVE_SECONDS.start(),
                    EUM_TIME_TO_LIVE_SECONDS.end()
                ))),
            })
            .transpose()?;
        let eum = EumConfig {
            configuration_set: get("EUM_CONFIGURATION_SET").map(|v| v.trim().to_string()),
            origination_identity: get("EUM_ORIGINATION_IDENTITY").map(|v| v.trim().to_string()),
            max_price: get("EUM_MAX_PRICE")
                .map(|price| max_price("EUM_MAX_PRICE", price))
                .transpose()?,
            time_to_live_seconds,
            opt_out_list: get("EUM_OPT_OUT_LIST").map(|v| v.trim().to_string()),
        };
        let tencent_accounts_secret = get("TENCENT_ACCOUNTS_SECRET").map(|v| v.trim().to_string());
        if sms_provider == SmsProvider::Tencent && tencent_accounts_secret.is_none() {
            return Err(Error::Config(
                "SMS_PROVIDER=tencent needs TENCENT_ACCOUNTS_SECRET: the Secrets Manager secret of the tenants' Tencent Cloud accounts".into(),
            ));
        }
        let retry_sweep = flag("RETRY_SWEEP")?;
        let sns_check_opt_out = flag("SNS_CHECK_OPT_OUT")?;
        Ok(Config {
            table_name: required("TABLE_NAME")?,
            rulebooks,
            event_bus_name: required("EVENT_BUS_NAME")?,
            sms_sender_id: get("SMS_SENDER_ID"),
            sms_max_price: get("SMS_MAX_PRICE")
                .map(|price| max_price("SMS_MAX_PRICE", price))
                .transpose()?,
            sns_check_opt_out,
            sms_provider,
            eum,
            tencent_accounts_secret,
            send_mps,
            retry_sweep,
        })
    }

    /// Parses and validates the rulebooks; every problem is in the error.
    pub fn load_rulebooks(&self) -> Result<Vec<Rulebook>> {
        match &self.rulebooks {
            RulebookSource::Inline(yaml) => Ok(vec![parse(yaml, "RULEBOOK")?]),
            RulebookSource::Path(path) if path.is_dir() => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|ext| ext == "yaml" || ext == "yml")
                    })
                    .collect();
                files.sort();
                if files.is_empty() {
                    return Err(Error::Config(format!(
                        "{}: no *.yaml rulebook in the directory",
                        path.display()
                    )));
                }
                files.iter().map(|file| read(file)).collect()
            }
            RulebookSource::Path(path) => Ok(vec![read(path)?]),
        }
    }
}

fn read(path: &Path) -> Result<Rulebook> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    parse(&source, &path.display().to_string())
}

/// A price cap as SNS and EUM take it: a positive decimal number of US dollars (`0.50`);
/// anything else would make every send fail. `name` is the variable it came from.
fn max_price(name: &str, text: String) -> Result<String> {
    let trimmed = text.trim();
    let decimal = !trimmed.is_empty()
        && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
        && trimmed.matches('.').count() <= 1;
    match trimmed.parse::<f64>() {
        Ok(price) if decimal && price > 0.0 => Ok(trimmed.to_string()),
        _ => Err(Error::Config(format!(
            "{name} must be a price in US dollars such as 0.50, not {text:?}"
        ))),
    }
}

fn parse(source: &str, name: &str) -> Result<Rulebook> {
    rulebook::parse(source, name).map_err(|errors| Error::Config(errors.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            ("TABLE_NAME", "nudge"),
            ("RULEBOOK_PATH", "rulebooks"),
            ("EVENT_BUS_NAME", "nudge-bus"),
            ("SMS_SENDER_ID", "ACME"),
            ("SMS_MAX_PRICE", "0.50"),
            ("SEND_MPS", "5"),
            ("RETRY_SWEEP", "false"),
        ])
        .unwrap();
        assert_eq!(c.table_name, "nudge");
        assert_eq!(c.rulebooks, RulebookSource::Path("rulebooks".into()));
        assert_eq!(c.event_bus_name, "nudge-bus");
        assert_eq!(c.sms_sender_id.as_deref(), Some("ACME"));
        assert_eq!(c.sms_max_price.as_deref(), Some("0.50"));
        assert_eq!(c.send_mps, 5);
        assert!(!c.retry_sweep);
        assert_eq!(c.sms_provider, SmsProvider::Sns);
        assert_eq!(c.eum, EumConfig::default());
    }

    fn eum_with(vars: &[(&str, &str)]) -> Result<Config> {
        let mut all = vec![
            ("TABLE_NAME", "t"),
            ("RULEBOOK", "tenant: a"),
            ("EVENT_BUS_NAME", "b"),
        ];
        all.extend_from_slice(vars);
        config(&all)
    }

    #[test]
    fn reads_the_eum_sender() {
        let c = eum_with(&[
            ("SMS_PROVIDER", " eum "),
            ("EUM_CONFIGURATION_SET", "nudge-events"),
            ("EUM_ORIGINATION_IDENTITY", "pool-0123456789abcdef"),
            ("EUM_MAX_PRICE", "0.25"),
            ("EUM_TIME_TO_LIVE_SECONDS", "3600"),
        ])
        .unwrap();
        assert_eq!(c.sms_provider, SmsProvider::Eum);
        assert_eq!(
            c.eum,
            EumConfig {
                configuration_set: Some("nudge-events".into()),
                origination_identity: Some("pool-0123456789abcdef".into()),
                max_price: Some("0.25".into()),
                time_to_live_seconds: Some(3600),
                opt_out_list: None,
            }
        );
        let plain = eum_with(&[("SMS_PROVIDER", "eum"), ("EUM_CONFIGURATION_SET", "")]).unwrap();
        assert_eq!(plain.eum, EumConfig::default());
        assert_eq!(
            eum_with(&[("SMS_PROVIDER", "sns")]).unwrap().sms_provider,
            SmsProvider::Sns
        );
    }

    #[test]
    fn tencent_needs_the_accounts_secret() {
        let c = eum_with(&[
            ("SMS_PROVIDER", "tencent"),
            ("TENCENT_ACCOUNTS_SECRET", "nudge/tencent-accounts"),
        ])
        .unwrap();
        assert_eq!(c.sms_provider, SmsProvider::Tencent);
        assert_eq!(
            c.tencent_accounts_secret.as_deref(),
            Some("nudge/tencent-accounts")
        );
        let err = eum_with(&[("SMS_PROVIDER", "tencent")]).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("TENCENT_ACCOUNTS_SECRET")),
            "{err}"
        );
    }

    #[test]
    fn bad_eum_values_name_their_variable() {
        for (name, bad) in [
            ("SMS_PROVIDER", "pinpoint"),
            ("SMS_PROVIDER", "EUM"),
            ("EUM_MAX_PRICE", "$1"),
            ("EUM_MAX_PRICE", "0"),
            ("EUM_TIME_TO_LIVE_SECONDS", "4"),
            ("EUM_TIME_TO_LIVE_SECONDS", "259201"),
            ("EUM_TIME_TO_LIVE_SECONDS", "1h"),
            ("EUM_TIME_TO_LIVE_SECONDS", "-60"),
        ] {
            let err = eum_with(&[(name, bad)]).unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if m.starts_with(name)),
                "{name}={bad}: {err}"
            );
        }
        let err = eum_with(&[("SMS_PROVIDER", "pigeon")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sns, eum"),
            "the error lists the choices: {err}"
        );
        for edge in ["5", "259200"] {
            assert!(
                eum_with(&[("EUM_TIME_TO_LIVE_SECONDS", edge)]).is_ok(),
                "{edge}"
            );
        }
    }

    #[test]
    fn a_max_price_must_be_a_positive_decimal() {
        let with = |price: &str| {
            config(&[
                ("TABLE_NAME", "t"),
                ("RULEBOOK", "tenant: a"),
                ("EVENT_BUS_NAME", "b"),
                ("SMS_MAX_PRICE", price),
            ])
        };
        assert_eq!(
            with(" 0.05 ").unwrap().sms_max_price.as_deref(),
            Some("0.05")
        );
        for bad in ["$0.50", "0,50", "-1", "0", "1e3", "0.5.0", "cheap"] {
            let err = with(bad).err().unwrap().to_string();
            assert!(err.contains("SMS_MAX_PRICE"), "{bad}: {err}");
        }
    }

    #[test]
    fn defaults_and_empty_values() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("RULEBOOK", "tenant: a"),
            ("EVENT_BUS_NAME", "b"),
            ("SMS_SENDER_ID", ""),
        ])
        .unwrap();
        assert_eq!(c.sms_sender_id, None);
        assert_eq!(c.send_mps, DEFAULT_SEND_MPS);
        assert!(c.retry_sweep);
        assert_eq!(c.rulebooks, RulebookSource::Inline("tenant: a".into()));
    }

    #[test]
    fn rejects_missing_ambiguous_and_bad_values() {
        let base = [("TABLE_NAME", "t"), ("EVENT_BUS_NAME", "b")];
        let err = config(&base).unwrap_err().to_string();
        assert!(err.contains("RULEBOOK_PATH or RULEBOOK"), "{err}");
        let mut both = base.to_vec();
        both.extend([("RULEBOOK", "x"), ("RULEBOOK_PATH", "y")]);
        assert!(config(&both).unwrap_err().to_string().contains("not both"));
        let err = config(&[("RULEBOOK", "x"), ("EVENT_BUS_NAME", "b")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TABLE_NAME"), "{err}");
        let mut bad = base.to_vec();
        bad.extend([("RULEBOOK", "x"), ("SEND_MPS", "fast")]);
        assert!(config(&bad).unwrap_err().to_string().contains("SEND_MPS"));
    }

    #[test]
    fn loads_the_bundled_examples() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("EVENT_BUS_NAME", "b"),
            ("RULEBOOK_PATH", dir.to_str().unwrap()),
        ])
        .unwrap();
        let books = c.load_rulebooks().unwrap();
        assert!(books.len() >= 2, "one rulebook per example file");
        let single = Config {
            rulebooks: RulebookSource::Path(dir.join("saas-lifecycle.yaml")),
            ..c.clone()
        };
        assert_eq!(single.load_rulebooks().unwrap().len(), 1);
        let broken = Config {
            rulebooks: RulebookSource::Inline("tenant: [".into()),
            ..c
        };
        assert!(matches!(broken.load_rulebooks(), Err(Error::Config(_))));
    }
}

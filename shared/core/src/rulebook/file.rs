//! The rulebook file as written: serde structs mirroring the YAML. Values that are validated
//! after parsing are `Spanned` so problems point at their line and column.
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RulebookFile {
    pub tenant: Spanned<String>,
    pub brand: Spanned<String>,
    pub timezone: Spanned<String>,
    #[serde(default)]
    pub locale: Option<Spanned<String>>,
    #[serde(default)]
    pub phone_region: Option<Spanned<String>>,
    /// The tenant's own numbers (E.164): inbound replies to them belong to this tenant.
    #[serde(default)]
    pub numbers: Vec<Spanned<String>>,
    /// Who the tenant's texts come from.
    #[serde(default)]
    pub sender: Option<Spanned<SenderFile>>,
    #[serde(default)]
    pub holidays: Vec<Spanned<String>>,
    #[serde(default)]
    pub attributes: Vec<Spanned<String>>,
    #[serde(default)]
    pub policy: PolicyFile,
    #[serde(default)]
    pub replies: RepliesFile,
    pub rules: Spanned<Vec<RuleFile>>,
}

/// `sender:` — exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SenderFile {
    #[serde(default)]
    pub number: Option<Spanned<String>>,
    #[serde(default)]
    pub pool: Option<Spanned<String>>,
    #[serde(default)]
    pub sender_id: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    #[serde(default)]
    pub window: Option<WindowFile>,
    #[serde(default)]
    pub transactional: Option<Spanned<CategoryFile>>,
    #[serde(default)]
    pub care: Option<Spanned<CategoryFile>>,
    #[serde(default)]
    pub marketing: Option<Spanned<CategoryFile>>,
    #[serde(default)]
    pub same_rule_min_gap: Option<Spanned<String>>,
    #[serde(default)]
    pub opt_out_footer: Option<Spanned<String>>,
    #[serde(default)]
    pub banned_phrases: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub max_segments: Option<Spanned<u32>>,
    #[serde(default)]
    pub number_hygiene: Option<NumberHygieneFile>,
}

/// `number_hygiene: {invalid_number: 1, unreachable: 3, blocked: 3}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NumberHygieneFile {
    #[serde(default)]
    pub invalid_number: Option<Spanned<u32>>,
    #[serde(default)]
    pub unreachable: Option<Spanned<u32>>,
    #[serde(default)]
    pub blocked: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowFile {
    pub start: Spanned<String>,
    pub end: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CategoryFile {
    #[serde(default)]
    pub window: Option<WindowFile>,
    #[serde(default)]
    pub weekdays_only: bool,
    #[serde(default)]
    pub skip_holidays: bool,
    #[serde(default)]
    pub per_week: Option<Spanned<u32>>,
    #[serde(default)]
    pub per_30_days: Option<Spanned<u32>>,
    #[serde(default)]
    pub min_gap: Option<Spanned<String>>,
    #[serde(default)]
    pub on_cap: Option<Spanned<CapActionFile>>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum CapActionFile {
    Skip,
    Defer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RepliesFile {
    #[serde(default)]
    pub opt_out_words: Vec<Spanned<String>>,
    #[serde(default)]
    pub opt_in_words: Vec<Spanned<String>>,
    #[serde(default)]
    pub help_words: Vec<Spanned<String>>,
    #[serde(default)]
    pub opt_out_confirmation: Option<Spanned<String>>,
    #[serde(default)]
    pub opt_in_confirmation: Option<Spanned<String>>,
    #[serde(default)]
    pub help_text: Option<Spanned<String>>,
    #[serde(default)]
    pub keyword_context: Option<Spanned<String>>,
    /// `nudge` (default) or `provider`: who answers STOP and HELP.
    #[serde(default)]
    pub opt_outs_managed_by: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub category: Spanned<String>,
    pub trigger: Spanned<TriggerFile>,
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub exit: Option<Spanned<String>>,
    pub template: Spanned<String>,
    /// The gateway's approved template this text is sent as (template gateways only).
    #[serde(default)]
    pub gateway_template: Option<Spanned<GatewayTemplateFile>>,
    #[serde(default)]
    pub holdout: Option<Spanned<String>>,
    /// What the text is for: the event that counts as its conversion.
    #[serde(default)]
    pub goal: Option<Spanned<GoalFile>>,
    #[serde(default)]
    pub max_segments: Option<Spanned<u32>>,
    /// Keyword → action; the action's location stands in for the keyword's (same line).
    #[serde(default)]
    pub replies: BTreeMap<String, Spanned<ReplyFile>>,
}

/// `goal: {event: order.paid, within: 7d, where: "event.properties.amount > 0",
/// value: properties.amount}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GoalFile {
    pub event: Spanned<String>,
    pub within: Spanned<String>,
    #[serde(default, rename = "where")]
    pub filter: Option<Spanned<String>>,
    #[serde(default)]
    pub value: Option<Spanned<String>>,
}

/// `gateway_template: {id: "1234567", params: [name, event.properties.order_id]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GatewayTemplateFile {
    pub id: Spanned<String>,
    #[serde(default)]
    pub params: Vec<Spanned<String>>,
}

/// Every key of every trigger kind; which combinations are valid is checked after parsing so
/// that all mistakes are reported at once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerFile {
    #[serde(default)]
    pub event: Option<Spanned<String>>,
    #[serde(default)]
    pub date: Option<Spanned<String>>,
    #[serde(default)]
    pub anniversary: Option<Spanned<String>>,
    #[serde(default)]
    pub inactive: Option<Spanned<String>>,
    #[serde(default)]
    pub every: Option<Spanned<String>>,
    #[serde(default)]
    pub count: Option<Spanned<String>>,
    #[serde(default)]
    pub delay: Option<Spanned<String>>,
    #[serde(default, rename = "where")]
    pub filter: Option<Spanned<String>>,
    #[serde(default)]
    pub offset: Option<Spanned<String>>,
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    pub after: Option<Spanned<String>>,
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    #[serde(default)]
    pub times: Option<Spanned<u32>>,
    #[serde(default)]
    pub within: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplyFile {
    #[serde(default)]
    pub emit: Option<Spanned<String>>,
    #[serde(default)]
    pub answer: Option<Spanned<String>>,
    #[serde(default)]
    pub set: BTreeMap<String, serde_json::Value>,
}

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TenantId;

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "customers:write")]
    CustomersWrite,
    #[serde(rename = "events:write")]
    EventsWrite,
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::CustomersWrite,
        Scope::EventsWrite,
        Scope::Read,
        Scope::Admin,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::CustomersWrite => "customers:write",
            Scope::EventsWrite => "events:write",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A stored API key. The secret itself is never stored: only its SHA-256 (hex). Keys are
/// looked up by their public `id` (the part of the key before the secret), so a key can be
/// revoked by id without knowing the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub secret_sha256: String,
    pub tenant: TenantId,
    pub scopes: Vec<Scope>,
    /// Empty: every region (head office). Otherwise only customers of these regions.
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.revoked_at.is_none()
            && (self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin))
    }

    /// Whether a customer of `region` is visible to this key.
    pub fn sees_region(&self, region: Option<&str>) -> bool {
        !self.is_regional() || region.is_some_and(|r| self.regions.iter().any(|k| k == r))
    }

    /// Whether the key is limited to some regions (a branch's key, not the head office's).
    pub fn is_regional(&self) -> bool {
        !self.regions.is_empty()
    }
}

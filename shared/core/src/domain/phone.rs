use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};

/// A phone number in E.164 form (`+8613800138000`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number written nationally (for `default_region`, an ISO 3166 code such as `CN`)
    /// or internationally, and rejects numbers that are not valid for their region.
    pub fn parse(raw: &str, default_region: Option<&str>) -> Result<Self> {
        let region =
            match default_region {
                Some(code) => Some(code.parse::<phonenumber::country::Id>().map_err(|_| {
                    Error::invalid("region", format!("unknown region code {code:?}"))
                })?),
                None => None,
            };
        let parsed = phonenumber::parse(region, raw.trim())
            .map_err(|e| Error::invalid("phone", format!("{raw:?} is not a phone number: {e}")))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(Error::invalid(
                "phone",
                format!("{raw:?} is not a valid phone number"),
            ));
        }
        Ok(Self(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        if !value.starts_with('+') {
            return Err(Error::invalid(
                "phone",
                format!("{value:?} is not in E.164 form"),
            ));
        }
        Self::parse(&value, None)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> String {
        value.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_take_the_default_region() {
        let p = PhoneNumber::parse("13800138000", Some("CN")).unwrap();
        assert_eq!(p.as_str(), "+8613800138000");
        let us = PhoneNumber::parse("(201) 555-0123", Some("US")).unwrap();
        assert_eq!(us.as_str(), "+12015550123");
    }

    #[test]
    fn international_numbers_ignore_the_default_region() {
        let p = PhoneNumber::parse("+49 30 901820", Some("CN")).unwrap();
        assert_eq!(p.as_str(), "+4930901820");
    }

    #[test]
    fn invalid_numbers_are_rejected_naming_the_value() {
        let err = PhoneNumber::parse("12345", Some("CN"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"12345\""), "{err}");
        assert!(PhoneNumber::parse("not a number", Some("CN")).is_err());
        assert!(PhoneNumber::parse("13800138000", Some("XX")).is_err());
    }

    #[test]
    fn deserializing_requires_e164() {
        assert!(serde_json::from_str::<PhoneNumber>("\"+8613800138000\"").is_ok());
        assert!(serde_json::from_str::<PhoneNumber>("\"13800138000\"").is_err());
    }
}

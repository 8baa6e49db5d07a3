//! TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0 ("Signature v3"), for
//! JSON `POST`s to `/` as the SMS API takes them.
use chrono::DateTime;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The content type signed and sent: the server checks the header sent against the one signed.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";
pub const SIGNED_HEADERS: &str = "content-type;host";

/// What one signature covers.
#[derive(Clone, Copy, Debug)]
pub struct SigningInput<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The product, as the first label of its host (`sms`, `cvm`).
    pub service: &'a str,
    pub host: &'a str,
    /// Unix seconds, sent as `X-TC-Timestamp`; its UTC date is part of the scope.
    pub timestamp: i64,
    pub payload: &'a [u8],
}

/// The signature's parts, each as the documentation shows it, and the `Authorization` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC accepts keys of any length, so `new_from_slice` cannot fail here; the empty MAC in
/// the impossible case only makes a signature the server refuses.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The UTC date of a timestamp (`2019-02-25`): the scope's date is UTC whatever the local zone.
pub fn utc_date(timestamp: i64) -> String {
    DateTime::from_timestamp(timestamp, 0)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .format("%Y-%m-%d")
        .to_string()
}

pub fn canonical_request(host: &str, payload: &[u8]) -> String {
    format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
        host.trim().to_ascii_lowercase(),
        sha256_hex(payload)
    )
}

pub fn sign(input: &SigningInput<'_>) -> Signed {
    let date = utc_date(input.timestamp);
    let scope = format!("{date}/{}/tc3_request", input.service);
    let canonical_request = canonical_request(input.host, input.payload);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        input.timestamp,
        sha256_hex(canonical_request.as_bytes())
    );
    let secret_date = hmac_sha256(
        format!("TC3{}", input.secret_key).as_bytes(),
        date.as_bytes(),
    );
    let secret_service = hmac_sha256(&secret_date, input.service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
        input.secret_id
    );
    Signed {
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "Signature v3" page (API 3.0, "Making API
    /// Requests" of any product, e.g. CVM's cloud.tencent.com/document/api/213/30654): CVM
    /// `DescribeInstances` in ap-guangzhou at 1551113065. The page has carried two key pairs
    /// over time, with the expected values for each; both are checked.
    const PAYLOAD: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn example(secret_id: &str, secret_key: &str) -> Signed {
        sign(&SigningInput {
            secret_id,
            secret_key,
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            timestamp: 1_551_113_065,
            payload: PAYLOAD.as_bytes(),
        })
    }

    #[test]
    fn matches_the_published_canonical_request_and_string_to_sign() {
        let signed = example("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "x");
        assert_eq!(
            signed.canonical_request,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\n\
             host:cvm.tencentcloudapi.com\n\ncontent-type;host\n\
             35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            signed.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
    }

    #[test]
    fn matches_the_published_signatures() {
        let signed = example(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        );
        assert_eq!(
            signed.signature,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            signed.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/\
             tc3_request, SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        // The current page masks the key with asterisks and signs with the masked key as is.
        let masked = example(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
        );
        assert_eq!(
            masked.signature,
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn the_scope_date_is_utc() {
        // 00:44 on the 26th in Beijing is still the 25th in UTC, as the page warns.
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
    }
}

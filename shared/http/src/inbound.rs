//! Inbound SMS over HTTP, handed to the provider-neutral reply service:
//!
//! - `POST /v1/inbound/twilio`: Twilio's form-encoded messaging webhook, authenticated by
//!   `X-Twilio-Signature` (the tenant's Twilio auth token); answered with empty TwiML, since
//!   answers to the customer go through nudge's own outbox.
//! - `POST /v1/inbound/generic`: JSON from any other gateway, authenticated by
//!   `X-Nudge-Signature` made with the tenant's webhook secret; answered with the reply report.
//!
//! Neither takes a bearer key (a provider cannot send one): the signature is the credential.
//! The tenant is the one owning the number texted (`To` / `to`); the rest of the request is
//! checked only once its signature is.
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use super::body::{
    content_type_is, is_json, parse, read_body, read_body_within, unsupported_media_type,
};
use super::problem::Problem;
use super::signature::{verify_signature, SignedRequest, SIGNATURE_HEADER};
use super::{AppState, HttpConfig, MAX_INBOUND_BODY_BYTES};
use nudge_core::domain::TenantId;
use nudge_core::ports::Store;
use nudge_core::service::{check_provider_id, InboundSms};

pub const TWILIO_SIGNATURE_HEADER: &str = "x-twilio-signature";
const FORM: &str = "application/x-www-form-urlencoded";
/// TwiML that tells Twilio to send nothing back.
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// Twilio's request signature: base64 of HMAC-SHA1, keyed with the auth token, over the full
/// URL Twilio called followed by every POST parameter's name and value, sorted by name (then
/// value), without separators.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    twilio_mac(auth_token, url, params)
        .map(|mac| base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// None only if the key were refused, which HMAC never does.
fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<Hmac<Sha1>> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// Checks `X-Twilio-Signature` in constant time; 403 when it is missing or does not match.
fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: Option<&HeaderValue>,
) -> Result<(), Problem> {
    let presented = header
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Problem::forbidden("missing X-Twilio-Signature"))?;
    let invalid = || {
        Problem::forbidden(
            "invalid X-Twilio-Signature: not signed with this number's Twilio auth token for \
             this URL and these parameters",
        )
    };
    let presented = base64::engine::general_purpose::STANDARD
        .decode(presented)
        .map_err(|_| invalid())?;
    let signed_over_a_variant = twilio_url_variants(url).iter().any(|variant| {
        twilio_mac(auth_token, variant, params)
            .is_some_and(|mac| mac.verify_slice(&presented).is_ok())
    });
    if signed_over_a_variant {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// The URLs a Twilio signature may have been computed over for the URL nudge was called at:
/// without a port and with one (the explicit port, else the scheme's default), as Twilio's
/// own request validators accept both (`https://host/p` and `https://host:443/p`).
fn twilio_url_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    // A port follows the last ':' that is not inside an IPv6 literal's brackets.
    let (host, port) = match host_port.rfind(':') {
        Some(colon) if !host_port[colon..].contains(']') => {
            (&host_port[..colon], Some(&host_port[colon + 1..]))
        }
        _ => (host_port, None),
    };
    let port = port
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .or_else(|| match scheme.to_ascii_lowercase().as_str() {
            "https" => Some("443".to_string()),
            "http" => Some("80".to_string()),
            _ => None,
        });
    let without = format!("{scheme}://{userinfo}{host}{path}");
    match port {
        Some(port) => vec![without, format!("{scheme}://{userinfo}{host}:{port}{path}")],
        None => vec![without],
    }
}

/// The URL Twilio called: the configured public base URL (else the forwarded scheme and the
/// `Host` header) followed by the path and query this server received.
fn public_url(config: &HttpConfig, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Some(base) = &config.public_base_url {
        return format!("{}{path}", base.trim_end_matches('/'));
    }
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = header(header::HeaderName::from_static("x-forwarded-proto")).unwrap_or("http");
    let host = header(header::HOST).unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

/// The tenant owning the number texted: 404 when none does.
fn tenant_of<S: Store + ?Sized>(
    state: &AppState<S>,
    field: &str,
    to: Option<&str>,
) -> Result<TenantId, Problem> {
    let to = to.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        Problem::bad_request(
            "invalid-body",
            format!("{field} (the number texted) is required"),
        )
        .field(field)
    })?;
    state
        .engine
        .tenant_for_number(to)
        .ok_or_else(|| Problem::not_found(format!("no tenant here owns the number {to:?}")))
}

fn provider_id(field: &str, id: &str) -> Result<(), Problem> {
    check_provider_id(id).map_err(|message| Problem::invalid(field, message))
}

pub async fn twilio<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if !content_type_is(&headers, FORM) {
        return Err(unsupported_media_type(FORM));
    }
    let raw = read_body(&headers, body, state.config.body_read_timeout).await?;
    let params: Vec<(String, String)> = form_urlencoded::parse(&raw).into_owned().collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let tenant = tenant_of(&state, "To", param("To"))?;
    let token = state
        .config
        .twilio_auth_tokens
        .get(&tenant)
        .ok_or_else(|| Problem::forbidden("this number takes no Twilio webhooks: no auth token"))?;
    let url = public_url(&state.config, &headers, &uri);
    verify_twilio(token, &url, &params, headers.get(TWILIO_SIGNATURE_HEADER))?;
    let required = |name: &str| {
        param(name).ok_or_else(|| {
            Problem::bad_request("invalid-body", format!("{name} is required")).field(name)
        })
    };
    let sms = InboundSms {
        from: required("From")?.to_string(),
        to: required("To")?.to_string(),
        body: param("Body").unwrap_or_default().to_string(),
        provider_id: required("MessageSid")?.to_string(),
        in_reply_to: None,
    };
    provider_id("MessageSid", &sms.provider_id)?;
    state
        .engine
        .handle_reply(&tenant, sms, state.publisher.as_ref())
        .await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))],
        EMPTY_TWIML,
    )
        .into_response())
}

/// The generic inbound body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericInbound {
    from: String,
    to: String,
    body: String,
    message_id: String,
    #[serde(default)]
    in_reply_to: Option<String>,
}

/// The signature is checked before the body is parsed: against the secret of every tenant
/// that takes generic webhooks (it names none until its body is read), and the number texted
/// must then be one of a tenant whose secret it verified with.
pub async fn generic<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if !is_json(&headers) {
        return Err(unsupported_media_type("application/json"));
    }
    let raw = read_body_within(
        &headers,
        body,
        MAX_INBOUND_BODY_BYTES,
        state.config.body_read_timeout,
    )
    .await?;
    let request = SignedRequest::of(&method, &uri, &raw);
    let now = state.engine.now();
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let mut signers = Vec::new();
    let mut refusal =
        Problem::forbidden("no tenant here takes generic webhooks (none has a webhook secret)");
    for (tenant, secret) in &state.config.webhook_secrets {
        match verify_signature(secret, header, request, now) {
            Ok(_) => signers.push(tenant),
            Err(problem) => refusal = problem,
        }
    }
    if signers.is_empty() {
        return Err(refusal);
    }
    let input: GenericInbound = parse(&raw)?;
    let tenant = tenant_of(&state, "to", Some(&input.to))?;
    if !state.config.webhook_secrets.contains_key(&tenant) {
        return Err(Problem::forbidden(
            "this number takes no generic webhooks: its tenant has no webhook secret",
        ));
    }
    // No replay check here, unlike the API's signed requests: the signed body carries the
    // provider's message id, which is handled once, so a replay is a redelivery with no
    // second effect (and a provider redelivering the same signed request gets its answer).
    if !signers.contains(&&tenant) {
        return Err(Problem::unauthorized(
            "invalid signature: not made with the webhook secret of the tenant owning `to`",
        ));
    }
    provider_id("message_id", &input.message_id)?;
    let sms = InboundSms {
        from: input.from,
        to: input.to,
        body: input.body,
        provider_id: input.message_id,
        in_reply_to: input.in_reply_to.filter(|id| !id.is_empty()),
    };
    let report = state
        .engine
        .handle_reply(&tenant, sms, state.publisher.as_ref())
        .await?;
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The examples of Twilio's request validation guide (auth token `12345`).
    #[test]
    fn matches_twilios_published_examples() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let call = |caller: &str| {
            params(&[
                ("CallSid", "CA1234567890ABCDE"),
                ("Caller", caller),
                ("Digits", "1234"),
                ("From", caller),
                ("To", "+18005551212"),
            ])
        };
        assert_eq!(
            twilio_signature("12345", url, &call("+12349013030")),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert_eq!(
            twilio_signature("12345", url, &call("+14158675309")),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn verification_needs_the_same_token_url_and_parameters() {
        let url = "https://sms.example.com/v1/inbound/twilio";
        let p = params(&[("To", "+1"), ("Body", "TD"), ("From", "+2")]);
        let good = twilio_signature("tok", url, &p);
        let header = HeaderValue::from_str(&good).unwrap();
        assert!(verify_twilio("tok", url, &p, Some(&header)).is_ok());
        // Parameter order on the wire does not matter; values, URL and token do.
        let mut reordered = p.clone();
        reordered.reverse();
        assert!(verify_twilio("tok", url, &reordered, Some(&header)).is_ok());
        let tampered = params(&[("To", "+1"), ("Body", "T"), ("From", "+2")]);
        assert!(verify_twilio("tok", url, &tampered, Some(&header)).is_err());
        assert!(verify_twilio(
            "tok",
            "http://sms.example.com/v1/inbound/twilio",
            &p,
            Some(&header)
        )
        .is_err());
        assert!(verify_twilio("other", url, &p, Some(&header)).is_err());
        assert!(verify_twilio("tok", url, &p, None).is_err());
        let garbage = HeaderValue::from_static("not base64!");
        assert!(verify_twilio("tok", url, &p, Some(&garbage)).is_err());
    }

    /// Twilio signs the URL as configured on the number; its validators accept it with and
    /// without the default port, and so does nudge.
    #[test]
    fn signatures_over_the_url_with_or_without_its_port_are_accepted() {
        let p = params(&[("To", "+1"), ("Body", "TD"), ("From", "+2")]);
        let check = |signed_url: &str, called_url: &str| {
            let header = HeaderValue::from_str(&twilio_signature("tok", signed_url, &p)).unwrap();
            verify_twilio("tok", called_url, &p, Some(&header)).is_ok()
        };
        let plain = "https://sms.example.com/v1/inbound/twilio?x=1";
        let ported = "https://sms.example.com:443/v1/inbound/twilio?x=1";
        assert!(check(ported, plain));
        assert!(check(plain, ported));
        assert!(check(plain, plain));
        assert!(check(
            "http://sms.example.com:80/v1/inbound/twilio",
            "http://sms.example.com/v1/inbound/twilio"
        ));
        assert!(check(
            "https://sms.example.com/hook",
            "https://sms.example.com:8443/hook"
        ));
        assert!(check(
            "https://user:pw@sms.example.com:443/hook",
            "https://user:pw@sms.example.com/hook"
        ));
        assert!(check("http://[::1]:80/hook", "http://[::1]/hook"));
        // Another port, scheme or path is another URL.
        assert!(!check(
            "https://sms.example.com:8443/hook",
            "https://sms.example.com/hook"
        ));
        assert!(!check(
            "http://sms.example.com:443/hook",
            "https://sms.example.com/hook"
        ));
        assert!(!check(
            "https://sms.example.com:443/other",
            "https://sms.example.com/hook"
        ));
    }

    #[test]
    fn the_public_url_prefers_the_configured_base() {
        let uri: Uri = "/v1/inbound/twilio?x=1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("internal:8080"));
        let config = HttpConfig::default();
        assert_eq!(
            public_url(&config, &headers, &uri),
            "http://internal:8080/v1/inbound/twilio?x=1"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(
            public_url(&config, &headers, &uri),
            "https://internal:8080/v1/inbound/twilio?x=1"
        );
        let config = HttpConfig {
            public_base_url: Some("https://sms.example.com/prod/".into()),
            ..HttpConfig::default()
        };
        assert_eq!(
            public_url(&config, &headers, &uri),
            "https://sms.example.com/prod/v1/inbound/twilio?x=1"
        );
    }
}

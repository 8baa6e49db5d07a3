//! The functions' `sdk_config()` reads the region and `AWS_ENDPOINT_URL` from the
//! environment (so tests and local runs point every client at an emulator). Alone in its
//! test binary because it changes the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use nudge_tests::moto;

use nudge_core::domain::Category;
use nudge_core::ports::SmsSender;
use nudge_core::Error;
use nudge_lambda::sdk_config;
use nudge_sns::SnsSender;
use nudge_tests::texts::TestText;

#[tokio::test]
async fn sdk_config_needs_a_region_and_honours_aws_endpoint_url() {
    let endpoint = moto::endpoint();
    // No region anywhere: a configuration error at start, not a failure at the first send.
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/nudge-test-config");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/nudge-test-credentials",
    );
    std::env::remove_var("AWS_REGION");
    std::env::remove_var("AWS_DEFAULT_REGION");
    std::env::remove_var("AWS_PROFILE");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let err = sdk_config().await.unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("AWS_REGION")),
        "{err:?}"
    );

    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    let sdk = sdk_config().await.unwrap();
    let sender = SnsSender::new(aws_sdk_sns::Client::new(&sdk), None, None);
    let text = TestText::new("+14255550188", "endpoint check", Category::Transactional);
    let sent = sender.send(&text.outgoing()).await.unwrap();
    let data = moto::data();
    let found = data["sns"]["SMS"]
        .as_array()
        .unwrap()
        .iter()
        .any(|sms| sms["message_id"] == sent.provider_id.as_str());
    assert!(found, "the text reached moto at {endpoint}");
}

//! Building the one SDK client of a configuration from plain options. It
//! costs milliseconds (credential chain, endpoint resolver), so the bindings
//! build it once per process and every call of that configuration, from
//! every thread, goes through it: one connection pool, one identity cache,
//! one retry budget, one clock-skew estimate.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::Builder;
use aws_sdk_dynamodb::Client;
use aws_types::service_config::ServiceConfigKey;
use aws_types::SdkConfig;

use crate::error::StoreError;

/// What configures the client: Ruby validates it (`Configuration`), the
/// bindings convert it (`ruby_api::options`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientOptions {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub profile: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub operation_timeout: Option<Duration>,
    pub max_attempts: Option<u32>,
}

/// DynamoDB Local and other explicit endpoints ignore the region, but the
/// request signer needs one.
const REGION_FOR_ENDPOINT: &str = "us-east-1";

/// The longest pause between two attempts of one call.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The client for `options`. Endpoint precedence is the SDK's own
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, the profile's
/// `[services]` section and `endpoint_url`, then the region's rules: FIPS,
/// dual-stack, partitions), with the `endpoint` option above all of them.
pub async fn build(options: ClientOptions) -> Result<Client, StoreError> {
    build_with(options, |config| config).await
}

/// [`build`], with a last say on the service config (tests add interceptors).
pub async fn build_with(
    options: ClientOptions,
    customize: impl FnOnce(Builder) -> Builder,
) -> Result<Client, StoreError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    match (&options.access_key_id, &options.secret_access_key) {
        (Some(id), Some(secret)) => {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret,
                options.session_token.clone(),
                None,
                "aws-sessionstore-dynamodb-rs options",
            ));
        }
        (None, None) => {}
        _ => {
            return Err(StoreError::Configuration(
                "access_key_id and secret_access_key must be given together".into(),
            ))
        }
    }
    // The operation timeout bounds the whole call: DNS, connect, the TLS
    // handshake, every attempt and the backoff between them.
    let mut timeouts = TimeoutConfig::builder();
    if let Some(t) = options.connect_timeout {
        timeouts = timeouts.connect_timeout(t);
    }
    if let Some(t) = options.operation_timeout {
        timeouts = timeouts.operation_timeout(t);
    }
    loader = loader.timeout_config(timeouts.build());
    // Standard mode: exponential backoff with jitter (from 1 s for
    // throttling, 50 ms otherwise) and a retry budget shared by every call
    // of the client, so an outage stops costing retries. The cap keeps
    // several attempts inside the operation timeout: a throttled table
    // usually recovers within a second or two.
    let mut retry = RetryConfig::standard().with_max_backoff(MAX_BACKOFF);
    if let Some(attempts) = options.max_attempts {
        retry = retry.with_max_attempts(attempts);
    }
    loader = loader.retry_config(retry);
    // Session items are small and answered at once, and the operation
    // timeout already bounds a stalled answer: the stalled-stream watchdog
    // would only add a timer and a wrapped body to every call.
    loader = loader.stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    let shared = loader.load().await;
    // From the shared config: the service-specific endpoint settings are
    // read here (env and profile).
    let mut config = Builder::from(&shared);
    if let Some(endpoint) = &options.endpoint {
        config = config.endpoint_url(endpoint);
    }
    if shared.region().is_none() {
        if options.endpoint.is_none() && configured_endpoint(&shared).is_none() {
            return Err(StoreError::Configuration(
                "no AWS region: set the region option, AWS_REGION, or a profile with a region"
                    .into(),
            ));
        }
        config = config.region(Region::new(REGION_FOR_ENDPOINT));
    }
    Ok(Client::from_conf(customize(config).build()))
}

/// An endpoint from the environment or the profile (service-specific, then
/// global), as the SDK reads them.
fn configured_endpoint(shared: &SdkConfig) -> Option<String> {
    let key = ServiceConfigKey::builder()
        .service_id("DynamoDB")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    shared
        .service_config()
        .and_then(|conf| conf.load_config(key))
        .or_else(|| shared.endpoint_url().map(str::to_string))
}

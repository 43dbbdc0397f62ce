//! Building the SDK client from plain options. Costs milliseconds (credential
//! chain, endpoint resolver), so the bindings build it once per process.

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::ops::http;
use crate::ops::wire::{WireClient, WireOptions};
use crate::options::ClientOptions;

/// DynamoDB Local and other explicit endpoints ignore the region, but the
/// request signer needs one.
const REGION_FOR_ENDPOINT: &str = "us-east-1";

/// The two clients of one configuration: the SDK for table management and
/// garbage collection, the wire client for the session hot path.
/// The wire client is built per thread from `wire` (see
/// `helpers::runtime::local_wire`).
#[derive(Clone)]
pub struct Clients {
    pub sdk: Client,
    pub wire: WireOptions,
}

pub async fn build(options: ClientOptions) -> Result<Clients, StoreError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &options.endpoint {
        loader = loader.endpoint_url(endpoint);
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
    let mut timeouts = TimeoutConfig::builder();
    if let Some(t) = options.connect_timeout {
        timeouts = timeouts.connect_timeout(t);
    }
    if let Some(t) = options.operation_timeout {
        timeouts = timeouts.operation_timeout(t);
    }
    loader = loader.timeout_config(timeouts.build());
    if let Some(attempts) = options.max_attempts {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts));
    }
    // Session items are small and answered at once: the stalled-stream
    // watchdog only adds timers to every call.
    loader = loader.stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    let shared = loader.load().await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&shared);
    let region = match shared.region() {
        Some(region) => region.to_string(),
        None if options.endpoint.is_some() => {
            config = config.region(Region::new(REGION_FOR_ENDPOINT));
            REGION_FOR_ENDPOINT.to_string()
        }
        None => {
            return Err(StoreError::Configuration(
                "no AWS region: set the region option, AWS_REGION, or a profile with a region"
                    .into(),
            ))
        }
    };
    let endpoint = match shared.endpoint_url() {
        Some(url) => url.to_string(),
        None => default_endpoint(&region),
    };
    let tls = if http::Endpoint::parse(&endpoint)?.is_tls() {
        Some(http::tls_config()?)
    } else {
        None
    };
    let wire = WireOptions {
        endpoint,
        region,
        provider: shared.credentials_provider(),
        tls,
        connect_timeout: options.connect_timeout,
        operation_timeout: options.operation_timeout,
        max_attempts: options.max_attempts.unwrap_or(DEFAULT_ATTEMPTS),
    };
    // Fail here, at boot, on a bad endpoint (root certificates: above).
    WireClient::new(wire.clone())?;
    Ok(Clients {
        sdk: Client::from_conf(config.build()),
        wire,
    })
}

/// The SDK's standard retry mode makes 3 attempts.
const DEFAULT_ATTEMPTS: u32 = 3;

/// DynamoDB's regional endpoint (FIPS and dual-stack endpoints: set
/// `endpoint` explicitly).
fn default_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://dynamodb.{region}.{suffix}")
}

//! Errors of the native layer, in plain Rust (no Ruby here): what `ops`
//! return. `ruby_api/errors.rs` maps them to the exception classes defined
//! in Ruby.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::endpoint::error::ResolveEndpointError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ErrorMetadata;

/// DynamoDB's limit on one item, names and values included.
pub const ITEM_SIZE_LIMIT: usize = 400 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// DynamoDB answered with an error.
    Service {
        code: String,
        message: String,
        request_id: Option<String>,
        status: Option<u16>,
    },
    /// No answer within the configured connect/operation timeout.
    Timeout(String),
    /// The connection failed (refused, reset, DNS).
    Network(String),
    /// The item would exceed DynamoDB's item size limit.
    TooLarge { size: usize, limit: usize },
    /// The pessimistic lock could not be acquired in time.
    LockWaitTimeout { waited_ms: u64 },
    /// Our lock was taken over before we released it.
    LockLost,
    /// Invalid options reached the native layer.
    Configuration(String),
    /// Stored data that can't be what this store wrote (`encrypt_data`: a
    /// wrong key, tampering, truncation).
    Corrupt(String),
    /// A bug in this layer (a caught panic, an unexpected response).
    Internal(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Service { code, message, .. } => write!(f, "{code}: {message}"),
            StoreError::Timeout(m) => write!(f, "DynamoDB request timed out: {m}"),
            StoreError::Network(m) => write!(f, "cannot reach DynamoDB: {m}"),
            StoreError::TooLarge { size, limit } => write!(
                f,
                "session item is {size} bytes, over DynamoDB's item size limit of {limit} bytes ({} KB); the stored session was left unchanged",
                ITEM_SIZE_LIMIT / 1024
            ),
            StoreError::LockWaitTimeout { waited_ms } => write!(
                f,
                "Maximum time spent to acquire lock has been exceeded! (waited {waited_ms} ms)"
            ),
            StoreError::LockLost => write!(
                f,
                "the session lock was taken over by another request before this one saved; the session was not overwritten"
            ),
            StoreError::Configuration(m) | StoreError::Corrupt(m) => write!(f, "{m}"),
            StoreError::Internal(m) => write!(f, "internal error in the native layer: {m}"),
        }
    }
}

impl StoreError {
    pub fn service_code(&self) -> Option<&str> {
        match self {
            StoreError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Converts any SDK error, keeping DynamoDB's code, message and request id.
    pub fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if let SdkError::ServiceError(service) = &err {
            let meta: &ErrorMetadata = service.err().meta();
            return StoreError::Service {
                code: meta.code().unwrap_or("UnknownError").to_string(),
                message: meta.message().unwrap_or("").to_string(),
                request_id: meta.extra("aws_request_id").map(str::to_string),
                status: Some(raw_status(service.raw())),
            };
        }
        let text = source_chain(&err);
        if resolves_no_endpoint(&err) {
            return StoreError::Configuration(format!("no DynamoDB endpoint: {text}"));
        }
        match &err {
            SdkError::TimeoutError(_) => StoreError::Timeout(text),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => StoreError::Timeout(text),
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => StoreError::Network(text),
            SdkError::ConstructionFailure(_) => StoreError::Configuration(text),
            _ => StoreError::Internal(text),
        }
    }
}

fn raw_status(raw: &HttpResponse) -> u16 {
    raw.status().as_u16()
}

/// Whether the SDK's endpoint rules refused the configuration (FIPS with a
/// custom endpoint, an invalid region): nothing was sent, and retrying
/// cannot help.
fn resolves_no_endpoint(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = err.source();
    while let Some(inner) = source {
        // The generated rules raise aws-smithy-http's error; the orchestrator
        // its own when it cannot apply an endpoint.
        if inner.is::<aws_smithy_http::endpoint::ResolveEndpointError>()
            || inner.is::<ResolveEndpointError>()
        {
            return true;
        }
        source = inner.source();
    }
    false
}

/// "outer: inner: innermost", so a refused connection says so.
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_names_size_and_limit() {
        let text = StoreError::TooLarge {
            size: 500_000,
            limit: ITEM_SIZE_LIMIT,
        }
        .to_string();
        assert!(text.contains("500000"), "{text}");
        assert!(text.contains("409600 bytes (400 KB)"), "{text}");
    }
}

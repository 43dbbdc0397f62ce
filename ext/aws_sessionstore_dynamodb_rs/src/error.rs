//! Errors of the native layer and their one mapping to Ruby.
//!
//! The exception classes are defined in Ruby (`errors.rb`); this file finds
//! them by name when an error is raised. Every variant is mapped in one
//! exhaustive `match`, so a new variant cannot be forgotten.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::endpoint::error::ResolveEndpointError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ErrorMetadata;
use std::sync::OnceLock;

use magnus::value::Opaque;
use magnus::{prelude::*, Error, ExceptionClass, RModule, Ruby};

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
                "session item is {size} bytes, over DynamoDB's item size limit of {limit} bytes (400 KB); the stored session was left unchanged"
            ),
            StoreError::LockWaitTimeout { waited_ms } => write!(
                f,
                "Maximum time spent to acquire lock has been exceeded! (waited {waited_ms} ms)"
            ),
            StoreError::LockLost => write!(
                f,
                "the session lock was taken over by another request before this one saved; the session was not overwritten"
            ),
            StoreError::Configuration(m) => write!(f, "{m}"),
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

    /// The Ruby exception for this error, an instance of a class from
    /// `Aws::SessionStore::DynamoDB::Errors`.
    pub fn into_ruby(self, ruby: &Ruby) -> Error {
        let class_name = match &self {
            StoreError::Service { code, .. } => match code.as_str() {
                "ResourceNotFoundException" => "ResourceNotFoundError",
                "ConditionalCheckFailedException" => "ConditionalCheckFailedError",
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded" => "ThrottlingError",
                "ValidationException" => "ValidationError",
                _ => "ServiceError",
            },
            StoreError::Timeout(_) => "TimeoutError",
            StoreError::Network(_) => "NetworkError",
            StoreError::TooLarge { .. } => "SessionTooLargeError",
            StoreError::LockWaitTimeout { .. } => "LockWaitTimeoutError",
            StoreError::LockLost => "LockLostError",
            StoreError::Configuration(_) => "ConfigurationError",
            StoreError::Internal(_) => "InternalError",
        };
        let message = self.to_string();
        let class = match error_class(ruby, class_name) {
            Some(class) => class,
            None => return Error::new(ruby.exception_runtime_error(), message),
        };
        let built = match self {
            StoreError::Service {
                code,
                request_id,
                status,
                ..
            } => class.new_instance((message.clone(), code, request_id, status)),
            _ => class.new_instance((message.clone(),)),
        };
        match built {
            Ok(exception) => exception.into(),
            Err(_) => Error::new(ruby.exception_runtime_error(), message),
        }
    }
}

/// Every class `into_ruby` raises, by name in
/// `Aws::SessionStore::DynamoDB::Errors` (defined in `errors.rb`).
const CLASS_NAMES: [&str; 12] = [
    "ResourceNotFoundError",
    "ConditionalCheckFailedError",
    "ThrottlingError",
    "ValidationError",
    "ServiceError",
    "TimeoutError",
    "NetworkError",
    "SessionTooLargeError",
    "LockWaitTimeoutError",
    "LockLostError",
    "ConfigurationError",
    "InternalError",
];

/// The classes, resolved once when the extension loads.
static CLASSES: OnceLock<Vec<(&'static str, Opaque<ExceptionClass>)>> = OnceLock::new();

/// Resolves every exception class once; a missing one fails the load
/// (`require` raises NameError) instead of the first error in production.
pub fn init(ruby: &Ruby) -> Result<(), Error> {
    let errors: RModule = ruby
        .class_object()
        .const_get::<_, RModule>("Aws")?
        .const_get::<_, RModule>("SessionStore")?
        .const_get::<_, RModule>("DynamoDB")?
        .const_get("Errors")?;
    let mut classes = Vec::with_capacity(CLASS_NAMES.len());
    for name in CLASS_NAMES {
        let class: ExceptionClass = errors.const_get(name)?;
        // Kept alive even if someone removed the constant.
        ruby.gc_register_mark_object(class);
        classes.push((name, Opaque::from(class)));
    }
    // A second load of the extension (another `require` path) keeps the first.
    let _ = CLASSES.set(classes);
    Ok(())
}

fn error_class(ruby: &Ruby, name: &str) -> Option<ExceptionClass> {
    CLASSES
        .get()?
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, class)| ruby.get_inner(*class))
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
        assert!(text.contains("409600"), "{text}");
    }
}

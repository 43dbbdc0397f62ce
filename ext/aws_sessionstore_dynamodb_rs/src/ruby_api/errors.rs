//! The one mapping of `StoreError` to Ruby exceptions. The classes are
//! defined in Ruby (`lib/aws/session_store/dynamo_db/errors.rb`) and resolved
//! once, when the extension loads; every variant is mapped in one exhaustive
//! `match`, so a new variant cannot be forgotten.

use std::sync::OnceLock;

use magnus::value::Opaque;
use magnus::{prelude::*, Error, ExceptionClass, RModule, Ruby};

use crate::error::StoreError;

impl StoreError {
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

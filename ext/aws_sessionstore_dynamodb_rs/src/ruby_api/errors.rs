//! The one mapping of `StoreError` to Ruby exceptions. The classes are
//! defined in Ruby (`lib/aws/session_store/dynamo_db/errors.rb`); their
//! names are listed once, in `classes!` below, and resolved when the
//! extension loads (a missing one fails the `require`). Which error is
//! which class is one exhaustive `match` (`Class::of`), so a new
//! `StoreError` variant that isn't mapped does not compile, and a class
//! can't be raised without being resolved at load.

use std::sync::OnceLock;

use magnus::value::Opaque;
use magnus::{prelude::*, Error, ExceptionClass, KwArgs, RModule, Ruby};

use crate::error::StoreError;

/// Defines `Class`, one variant per exception class of
/// `Aws::SessionStore::DynamoDB::Errors` the native layer raises, named as
/// in Ruby, with `Class::ALL` and `Class::name`.
macro_rules! classes {
    ($($class:ident),+ $(,)?) => {
        // Named exactly as the Ruby classes, which all end in "Error".
        #[allow(clippy::enum_variant_names)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Class {
            $($class),+
        }

        impl Class {
            /// Every class, in declaration order (`Class as usize` indexes it).
            const ALL: &'static [Class] = &[$(Class::$class),+];

            /// The class's name in `Aws::SessionStore::DynamoDB::Errors`.
            fn name(self) -> &'static str {
                match self {
                    $(Class::$class => stringify!($class)),+
                }
            }
        }
    };
}

classes!(
    ResourceNotFoundError,
    ConditionalCheckFailedError,
    ThrottlingError,
    ValidationError,
    ServiceError,
    TimeoutError,
    NetworkError,
    SessionTooLargeError,
    LockWaitTimeoutError,
    LockLostError,
    ConfigurationError,
    CorruptSessionError,
    InternalError,
);

impl Class {
    /// The class an error is raised as.
    fn of(err: &StoreError) -> Class {
        match err {
            StoreError::Service { code, .. } => match code.as_str() {
                "ResourceNotFoundException" => Class::ResourceNotFoundError,
                "ConditionalCheckFailedException" => Class::ConditionalCheckFailedError,
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded" => Class::ThrottlingError,
                "ValidationException" => Class::ValidationError,
                _ => Class::ServiceError,
            },
            StoreError::Timeout(_) => Class::TimeoutError,
            StoreError::Network(_) => Class::NetworkError,
            StoreError::TooLarge { .. } => Class::SessionTooLargeError,
            StoreError::LockWaitTimeout { .. } => Class::LockWaitTimeoutError,
            StoreError::LockLost => Class::LockLostError,
            StoreError::Configuration(_) => Class::ConfigurationError,
            StoreError::Corrupt(_) => Class::CorruptSessionError,
            StoreError::Internal(_) => Class::InternalError,
        }
    }
}

impl StoreError {
    /// The Ruby exception for this error, an instance of a class from
    /// `Aws::SessionStore::DynamoDB::Errors`.
    pub fn into_ruby(self, ruby: &Ruby) -> Error {
        let message = self.to_string();
        let Some(class) = error_class(ruby, Class::of(&self)) else {
            return Error::new(ruby.exception_runtime_error(), message);
        };
        let built = match self {
            StoreError::Service {
                code,
                request_id,
                status,
                ..
            } => class.new_instance((message.clone(), code, request_id, status)),
            // Ruby builds these messages from the data (errors.rb), so the
            // in-memory client of the specs raises the very same text.
            StoreError::TooLarge { size, limit } => class.new_instance((size, limit)),
            StoreError::LockWaitTimeout { waited_ms } => {
                let kw = ruby.hash_new();
                match kw.aset(ruby.to_symbol("waited_ms"), waited_ms) {
                    Ok(()) => class.new_instance((KwArgs(kw),)),
                    Err(e) => Err(e),
                }
            }
            StoreError::LockLost => class.new_instance(()),
            _ => class.new_instance((message.clone(),)),
        };
        match built {
            Ok(exception) => exception.into(),
            Err(_) => Error::new(ruby.exception_runtime_error(), message),
        }
    }
}

/// The classes, resolved once when the extension loads, indexed by `Class`.
static CLASSES: OnceLock<Vec<Opaque<ExceptionClass>>> = OnceLock::new();

/// Resolves every exception class once; a missing one fails the load
/// (`require` raises NameError) instead of the first error in production.
pub fn init(ruby: &Ruby) -> Result<(), Error> {
    let errors: RModule = ruby
        .class_object()
        .const_get::<_, RModule>("Aws")?
        .const_get::<_, RModule>("SessionStore")?
        .const_get::<_, RModule>("DynamoDB")?
        .const_get("Errors")?;
    let mut classes = Vec::with_capacity(Class::ALL.len());
    for class in Class::ALL {
        let resolved: ExceptionClass = errors.const_get(class.name())?;
        // Kept alive even if someone removed the constant.
        ruby.gc_register_mark_object(resolved);
        classes.push(Opaque::from(resolved));
    }
    // A second load of the extension (another `require` path) keeps the first.
    let _ = CLASSES.set(classes);
    Ok(())
}

fn error_class(ruby: &Ruby, class: Class) -> Option<ExceptionClass> {
    CLASSES
        .get()?
        .get(class as usize)
        .map(|resolved| ruby.get_inner(*resolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_sits_at_its_own_index() {
        for (i, class) in Class::ALL.iter().enumerate() {
            assert_eq!(*class as usize, i, "{}", class.name());
        }
    }

    #[test]
    fn errors_map_to_their_classes() {
        let service = |code: &str| StoreError::Service {
            code: code.into(),
            message: String::new(),
            request_id: None,
            status: None,
        };
        assert_eq!(
            Class::of(&service("ThrottlingException")),
            Class::ThrottlingError
        );
        assert_eq!(Class::of(&service("Whatever")), Class::ServiceError);
        assert_eq!(
            Class::of(&StoreError::TooLarge { size: 1, limit: 0 }).name(),
            "SessionTooLargeError"
        );
    }
}

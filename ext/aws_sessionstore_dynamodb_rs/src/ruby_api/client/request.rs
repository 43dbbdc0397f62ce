//! Reading the request Structs of `lib/aws/session_store/dynamo_db/native.rb`
//! (one per call shape) into owned Rust values, in one place. Every read
//! goes through `member`, whose errors name the Struct and the member
//! (`Aws::SessionStore::DynamoDB::Native::SaveRequest#data: ...`) and keep
//! Ruby's class: a missing member is a NameError, a wrong type a TypeError,
//! a value the native layer can't take a `ConfigurationError`; never a
//! panic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{
    prelude::*, r_struct::RStruct, Error, ExceptionClass, RArray, RHash, Ruby, TryConvert,
};

use crate::error::StoreError;
use crate::ops::item::ItemKey;
use crate::ops::stats::CallStats;
use crate::ops::table::Billing;
use crate::ruby_api::item;

/// One member of a request Struct, converted.
pub(super) fn member<T: TryConvert>(request: RStruct, name: &str) -> Result<T, Error> {
    request
        .getmember(name)
        .map_err(|err| naming(request, name, err))
}

/// `err` again, same class, its message prefixed with `Struct#member`.
fn naming(request: RStruct, name: &str, err: Error) -> Error {
    let Some(exception) = err.value() else {
        return err;
    };
    let Some(class) = ExceptionClass::from_value(exception.class().as_value()) else {
        return err;
    };
    let message: String = match exception.funcall("message", ()) {
        Ok(message) => message,
        Err(_) => return err,
    };
    Error::new(class, format!("{}#{name}: {message}", struct_name(request)))
}

/// The request's class name (`inspect` would add "(keyword_init: true)").
fn struct_name(request: RStruct) -> String {
    let class = request.class();
    match class.funcall::<_, _, Option<String>>("name", ()) {
        Ok(Some(name)) => name,
        _ => class.inspect(),
    }
}

/// A `ConfigurationError` (a value of the right type the native layer
/// can't take).
fn bad(ruby: &Ruby, problem: String) -> Error {
    StoreError::Configuration(problem).into_ruby(ruby)
}

/// The item a request names: its `table`, `key_name` and `key` members,
/// and `instrument` (true: count the call's cost).
pub(super) fn item_key(request: RStruct) -> Result<ItemKey, Error> {
    let instrument: Option<bool> = member(request, "instrument")?;
    key_of(request, instrument.unwrap_or(false))
}

/// The item a request without `instrument` (`RewriteRequest`) names.
pub(super) fn uncounted_key(request: RStruct) -> Result<ItemKey, Error> {
    key_of(request, false)
}

fn key_of(request: RStruct, counted: bool) -> Result<ItemKey, Error> {
    Ok(ItemKey {
        table: member(request, "table")?,
        key_name: member(request, "key_name")?,
        key: member(request, "key")?,
        stats: counted.then(|| Arc::new(CallStats::default())),
    })
}

/// Member `name`, a number of seconds, as a Duration.
pub(super) fn seconds(
    ruby: &Ruby,
    request: RStruct,
    name: &str,
    option: &str,
) -> Result<Duration, Error> {
    let secs: f64 = member(request, name)?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        bad(
            ruby,
            format!("option :{option} must be a non-negative number of seconds"),
        )
    })
}

/// Member `name`, milliseconds, as a Duration.
pub(super) fn millis(request: RStruct, name: &str) -> Result<Duration, Error> {
    member::<u64>(request, name).map(Duration::from_millis)
}

/// `billing_mode` ("provisioned", with `read_capacity` and
/// `write_capacity`, or "pay_per_request"). Ruby validates the option
/// (`options.rb`); any other value is a `ConfigurationError` here too.
pub(super) fn billing(ruby: &Ruby, request: RStruct) -> Result<Billing, Error> {
    let mode: String = member(request, "billing_mode")?;
    match mode.as_str() {
        "pay_per_request" => Ok(Billing::PayPerRequest),
        "provisioned" => Ok(Billing::Provisioned {
            read: member(request, "read_capacity")?,
            write: member(request, "write_capacity")?,
        }),
        other => Err(bad(
            ruby,
            format!("option :billing_mode must be :provisioned or :pay_per_request, not {other:?}"),
        )),
    }
}

/// Member `name`, `[type, text]` (type "S" or "N"), as an attribute value.
pub(super) fn typed(ruby: &Ruby, request: RStruct, name: &str) -> Result<AttributeValue, Error> {
    let (kind, text): (String, String) = member(request, name)?;
    item::typed_value(&kind, text)
        .ok_or_else(|| bad(ruby, format!("{name}: type {kind:?} is not S or N")))
}

/// Member `name`, `[[attribute, type, text], ...]` (type "S" or "N"), as
/// attribute values.
pub(super) fn typed_list(
    ruby: &Ruby,
    request: RStruct,
    name: &str,
) -> Result<Vec<(String, AttributeValue)>, Error> {
    let list: RArray = member(request, name)?;
    let mut out = Vec::with_capacity(list.len());
    for entry in list.into_iter() {
        let (attribute, kind, text): (String, String, String) = TryConvert::try_convert(entry)?;
        let value = item::typed_value(&kind, text).ok_or_else(|| {
            bad(
                ruby,
                format!("attribute {attribute:?}: type {kind:?} is not S or N"),
            )
        })?;
        out.push((attribute, value));
    }
    Ok(out)
}

/// Member `name`, a Hash of attribute name to String (a scan's start key),
/// or nil, as S values.
pub(super) fn string_map(
    request: RStruct,
    name: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, Error> {
    let Some(hash) = member::<Option<RHash>>(request, name)? else {
        return Ok(None);
    };
    let mut map = HashMap::new();
    hash.foreach(|attribute: String, value: String| {
        map.insert(attribute, AttributeValue::S(value));
        Ok(magnus::r_hash::ForEach::Continue)
    })?;
    Ok(Some(map))
}

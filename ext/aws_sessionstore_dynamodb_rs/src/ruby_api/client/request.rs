//! Reading the request Structs of `lib/aws/session_store/dynamo_db/native.rb`
//! (one per call shape) into owned Rust values, in one place: a
//! `TryConvert` per shape, so a binding takes the `ops` value (or a plain
//! struct of them) as its argument and magnus reads it before the call.
//! Every read goes through `member`, whose errors name the Struct and the
//! member (`Aws::SessionStore::DynamoDB::Native::SaveRequest#data: ...`)
//! and keep Ruby's class: a missing member is a NameError, a wrong type a
//! TypeError, a value the native layer can't take a `ConfigurationError`;
//! never a panic. Members are read in the order they always were, so the
//! first bad one is the one named.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{
    error::ErrorType, prelude::*, r_struct::RStruct, Error, ExceptionClass, RArray, RHash, RString,
    Ruby, TryConvert, Value,
};

use crate::error::StoreError;
use crate::ops::gc::GcSpec;
use crate::ops::item::ItemKey;
use crate::ops::lock::LockTiming;
use crate::ops::session::{Condition, Move, Save, UserChange};
use crate::ops::stats::CallStats;
use crate::ops::table::{Billing, CreateTable};
use crate::ops::users;
use crate::ruby_api::item;

/// A request a binding takes: where its call's cost is counted, when the
/// request asked for it (`instrument: true`).
pub(super) trait Request {
    fn stats(&self) -> Option<Arc<CallStats>> {
        None
    }
}

/// `Native::ItemRequest`, for `get_item`.
pub(super) struct ItemRequest {
    pub key: ItemKey,
    pub consistent: bool,
}

/// `Native::LockRequest`, for `lock_session`.
pub(super) struct LockRequest {
    pub key: ItemKey,
    pub consistent: bool,
    pub timing: LockTiming,
}

/// `Native::LockedItem`, for `release_lock`: the lock value to remove.
pub(super) struct LockedItem {
    pub key: ItemKey,
    pub lock: String,
}

/// `Native::UserEntry`, for `track_user_session`, `untrack_user_session`
/// and `revoke_user_session`: one session (`session`) of one user (`user`,
/// the `user_id` value), and that user's record (`record`); both count
/// into the same stats.
pub(super) struct UserEntry {
    pub user: String,
    pub session: ItemKey,
    pub record: ItemKey,
    pub added_at: Option<i64>,
}

/// `Native::UserRequest`, for `user_session_keys` and `user_index_keys`:
/// the user (`user_id` as stored) and the user's record.
pub(super) struct UserRequest {
    pub user: String,
    pub record: ItemKey,
}

/// `Native::SummaryRequest`, for `session_summaries`: the table (`key`
/// unused) and the storage keys to read.
pub(super) struct SummaryRequest {
    pub table: ItemKey,
    pub keys: Vec<String>,
}

/// `Native::ScanRequest`, for `scan_page`.
pub(super) struct ScanRequest {
    pub table: String,
    pub limit: i32,
    pub start_key: Option<HashMap<String, AttributeValue>>,
}

/// `Native::RewriteRequest`, for `rewrite_item` (never counted).
pub(super) struct RewriteRequest {
    pub key: ItemKey,
    pub expected: Vec<(String, AttributeValue)>,
    pub set: Vec<(String, AttributeValue)>,
}

impl TryConvert for ItemRequest {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let consistent = member(request, "consistent")?;
        Ok(ItemRequest {
            key: item_key(request)?,
            consistent,
        })
    }
}

/// `Native::ItemRequest` for `delete_item`, which reads its key only.
impl TryConvert for ItemKey {
    fn try_convert(val: Value) -> Result<Self, Error> {
        item_key(RStruct::try_convert(val)?)
    }
}

impl TryConvert for Save {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let new_session: bool = member(request, "new_session")?;
        // nil keeps the user, false removes it, a String sets it.
        let user: Value = member(request, "user")?;
        let user = if user.is_nil() {
            UserChange::Keep
        } else if !user.to_bool() {
            UserChange::Remove
        } else {
            UserChange::Set(member(request, "user")?)
        };
        Ok(Save {
            key: item_key(request)?,
            data: member(request, "data")?,
            created_at: member(request, "created_at")?,
            expire_at: member(request, "expire_at")?,
            condition: if new_session {
                Condition::New
            } else {
                Condition::Existing
            },
            lock: member(request, "lock")?,
            user,
            user_agent: member(request, "user_agent")?,
        })
    }
}

impl TryConvert for Move {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let read_updated_at = typed(&Ruby::get_with(val), request, "read_updated_at")?;
        Ok(Move {
            to: item_key(request)?,
            from_key: member(request, "from_key")?,
            data: member(request, "data")?,
            created_at: member(request, "created_at")?,
            expire_at: member(request, "expire_at")?,
            read_updated_at,
            lock: member(request, "lock")?,
            user: member(request, "user")?,
            user_agent: member(request, "user_agent")?,
        })
    }
}

impl TryConvert for LockRequest {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let consistent = member(request, "consistent")?;
        let timing = LockTiming {
            expiry: millis(request, "expiry_ms")?,
            retry_delay: millis(request, "retry_delay_ms")?,
            max_wait: millis(request, "max_wait_ms")?,
        };
        Ok(LockRequest {
            key: item_key(request)?,
            consistent,
            timing,
        })
    }
}

impl TryConvert for LockedItem {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let lock = member(request, "lock")?;
        Ok(LockedItem {
            key: item_key(request)?,
            lock,
        })
    }
}

impl TryConvert for UserEntry {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let user: String = member(request, "user")?;
        let session = item_key(request)?;
        let record = ItemKey {
            key: users::record_key(&user),
            ..session.clone()
        };
        Ok(UserEntry {
            user,
            session,
            record,
            added_at: member(request, "added_at")?,
        })
    }
}

impl TryConvert for UserRequest {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let user: String = member(request, "user")?;
        let instrument: Option<bool> = member(request, "instrument")?;
        Ok(UserRequest {
            record: ItemKey {
                table: member(request, "table")?,
                key_name: member(request, "key_name")?,
                key: users::record_key(&user),
                stats: instrument
                    .unwrap_or(false)
                    .then(|| Arc::new(CallStats::default())),
            },
            user,
        })
    }
}

impl TryConvert for SummaryRequest {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let instrument: Option<bool> = member(request, "instrument")?;
        let keys = member(request, "keys")?;
        Ok(SummaryRequest {
            table: ItemKey {
                table: member(request, "table")?,
                key_name: member(request, "key_name")?,
                key: String::new(),
                stats: instrument
                    .unwrap_or(false)
                    .then(|| Arc::new(CallStats::default())),
            },
            keys,
        })
    }
}

impl TryConvert for CreateTable {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let billing = billing(&Ruby::get_with(val), request)?;
        Ok(CreateTable {
            table: member(request, "table")?,
            key_name: member(request, "key_name")?,
            billing,
            enable_ttl: member(request, "enable_ttl")?,
            user_index: member(request, "user_index")?,
            stats: counted(request)?,
        })
    }
}

/// `Native::TableName`, for `delete_table` and `describe_table`: the table,
/// and `instrument`. A plain String (a table's name) is taken as one too.
pub(super) struct TableName {
    pub table: String,
    pub stats: Option<Arc<CallStats>>,
}

impl TryConvert for TableName {
    fn try_convert(val: Value) -> Result<Self, Error> {
        if let Some(name) = RString::from_value(val) {
            return Ok(TableName {
                table: name.to_string()?,
                stats: None,
            });
        }
        let request = RStruct::try_convert(val)?;
        Ok(TableName {
            table: member(request, "table")?,
            stats: counted(request)?,
        })
    }
}

impl Request for TableName {
    fn stats(&self) -> Option<Arc<CallStats>> {
        self.stats.clone()
    }
}

/// Fresh stats when the request's `instrument` is true.
fn counted(request: RStruct) -> Result<Option<Arc<CallStats>>, Error> {
    let instrument: Option<bool> = member(request, "instrument")?;
    Ok(instrument
        .unwrap_or(false)
        .then(|| Arc::new(CallStats::default())))
}

impl TryConvert for GcSpec {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let ruby = Ruby::get_with(val);
        let dry_run = member(request, "dry_run")?;
        Ok(GcSpec {
            table: member(request, "table")?,
            key_name: member(request, "key_name")?,
            max_age: member(request, "max_age")?,
            max_stale: member(request, "max_stale")?,
            segments: member(request, "segments")?,
            operation_delay: seconds(&ruby, request, "operation_delay", "gc_operation_delay")?,
            max_deletes_per_second: member(request, "max_deletes_per_second")?,
            dry_run,
        })
    }
}

impl TryConvert for ScanRequest {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        Ok(ScanRequest {
            table: member(request, "table")?,
            limit: member(request, "limit")?,
            start_key: string_map(request, "start_key")?,
        })
    }
}

impl TryConvert for RewriteRequest {
    fn try_convert(val: Value) -> Result<Self, Error> {
        let request = RStruct::try_convert(val)?;
        let ruby = Ruby::get_with(val);
        let expected = typed_list(&ruby, request, "expected")?;
        let set = typed_list(&ruby, request, "set")?;
        Ok(RewriteRequest {
            key: key_of(request, false)?,
            expected,
            set,
        })
    }
}

/// The item requests, by the field holding their key (and its stats).
macro_rules! counted {
    ($($request:ty => $key:ident),+ $(,)?) => {$(
        impl Request for $request {
            fn stats(&self) -> Option<Arc<CallStats>> {
                self.$key.stats.clone()
            }
        }
    )+};
}

counted!(
    ItemRequest => key,
    Save => key,
    Move => to,
    LockRequest => key,
    LockedItem => key,
    UserEntry => session,
    UserRequest => record,
    SummaryRequest => table,
);

/// `delete_item`'s request, which is its key.
impl Request for ItemKey {
    fn stats(&self) -> Option<Arc<CallStats>> {
        self.stats.clone()
    }
}

impl Request for CreateTable {
    fn stats(&self) -> Option<Arc<CallStats>> {
        self.stats.clone()
    }
}
impl Request for ScanRequest {}
impl Request for RewriteRequest {}

/// One member of a request Struct, converted.
fn member<T: TryConvert>(request: RStruct, name: &str) -> Result<T, Error> {
    request
        .getmember(name)
        .map_err(|err| naming(request, name, err))
}

/// `err` again, same class, its message prefixed with `Struct#member`:
/// an exception Ruby raised, or one magnus made (an Array, Hash or tuple
/// member of the wrong type) before raising it.
fn naming(request: RStruct, name: &str, err: Error) -> Error {
    let named = |class, message: &str| {
        Error::new(class, format!("{}#{name}: {message}", struct_name(request)))
    };
    match err.error_type() {
        ErrorType::Error(class, message) => named(*class, message),
        ErrorType::Exception(exception) => {
            let Some(class) = ExceptionClass::from_value(exception.class().as_value()) else {
                return err;
            };
            match exception.funcall::<_, _, String>("message", ()) {
                Ok(message) => named(class, &message),
                Err(_) => err,
            }
        }
        ErrorType::Jump(_) => err,
    }
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
fn item_key(request: RStruct) -> Result<ItemKey, Error> {
    let instrument: Option<bool> = member(request, "instrument")?;
    key_of(request, instrument.unwrap_or(false))
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
fn seconds(ruby: &Ruby, request: RStruct, name: &str, option: &str) -> Result<Duration, Error> {
    let secs: f64 = member(request, name)?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        bad(
            ruby,
            format!("option :{option} must be a non-negative number of seconds"),
        )
    })
}

/// Member `name`, milliseconds, as a Duration.
fn millis(request: RStruct, name: &str) -> Result<Duration, Error> {
    member::<u64>(request, name).map(Duration::from_millis)
}

/// `billing_mode` ("provisioned", with `read_capacity` and
/// `write_capacity`, or "pay_per_request"). Ruby validates the option
/// (`options.rb`); any other value is a `ConfigurationError` here too.
fn billing(ruby: &Ruby, request: RStruct) -> Result<Billing, Error> {
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
fn typed(ruby: &Ruby, request: RStruct, name: &str) -> Result<AttributeValue, Error> {
    let (kind, text): (String, String) = member(request, name)?;
    item::typed_value(&kind, text)
        .ok_or_else(|| bad(ruby, format!("{name}: type {kind:?} is not S or N")))
}

/// Member `name`, `[[attribute, type, text], ...]` (type "S" or "N"), as
/// attribute values.
fn typed_list(
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
fn string_map(
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

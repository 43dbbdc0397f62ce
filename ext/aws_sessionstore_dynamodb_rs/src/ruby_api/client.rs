//! `Aws::SessionStore::DynamoDB::Native::Client`: one SDK client per
//! configuration, reused across requests and threads (keep-alive), rebuilt
//! in a forked child. Each method copies its Ruby arguments into owned Rust
//! data, runs the operation with the GVL released, and builds Ruby objects
//! after taking it back.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use magnus::{
    block::Proc, function, method, prelude::*, r_struct::RStruct, Error, IntoValue, RArray, RHash,
    RModule, Ruby, TryConvert, Value,
};

use crate::error::StoreError;
use crate::helpers::gvl::nogvl;
use crate::helpers::runtime;
use crate::ops::connect::{self, ClientOptions};
use crate::ops::gc::{self, GcProgress, GcSpec};
use crate::ops::lock::{self, LockTiming, Locked};
use crate::ops::migrate;
use crate::ops::session::{self, Condition, ItemKey, Move, Moved, Save, Saved};
use crate::ops::stats::CallStats;
use crate::ops::table::{self, Billing, CreateTable, Created, Deleted};
use crate::ruby_api::{item, options};

struct PidClient {
    pid: u32,
    cell: Arc<tokio::sync::OnceCell<aws_sdk_dynamodb::Client>>,
}

#[magnus::wrap(
    class = "Aws::SessionStore::DynamoDB::Native::Client",
    free_immediately,
    size
)]
pub struct Client {
    options: ClientOptions,
    cached: Mutex<Option<PidClient>>,
}

impl Client {
    fn new(ruby: &Ruby, options: RHash) -> Result<Self, Error> {
        Ok(Client {
            options: options::from_hash(ruby, options)?,
            cached: Mutex::new(None),
        })
    }

    /// This process's SDK client, built on first use and again in a forked
    /// child. Threads that arrive while it is being built wait for that one
    /// build with the GVL released, so a process never holds two clients
    /// (two connection pools, two credential caches) for one configuration.
    fn sdk(&self, ruby: &Ruby) -> Result<aws_sdk_dynamodb::Client, Error> {
        let pid = runtime::pid();
        let cell = {
            let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            match cached.as_ref().filter(|c| c.pid == pid) {
                Some(current) => current.cell.clone(),
                None => {
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    if let Some(inherited) = cached.replace(PidClient {
                        pid,
                        cell: cell.clone(),
                    }) {
                        // Its connections belong to the parent's runtime;
                        // dropping them here could block on threads that do
                        // not exist after fork.
                        std::mem::forget(inherited);
                    }
                    cell
                }
            }
        };
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let options = self.options.clone();
        nogvl(ruby, async move {
            cell.get_or_try_init(|| connect::build(options))
                .await
                .cloned()
        })
    }

    /// Runs `work` with this process's client on the item `request`
    /// names (its `table`, `key_name` and `key` members), the GVL released.
    fn on_item<T, F>(
        &self,
        ruby: &Ruby,
        request: RStruct,
        work: impl FnOnce(aws_sdk_dynamodb::Client, ItemKey) -> F,
    ) -> Result<(T, Option<Arc<CallStats>>), Error>
    where
        F: std::future::Future<Output = Result<T, StoreError>> + Send,
        T: Send,
    {
        let key = item_key(request)?;
        let stats = key.stats.clone();
        let client = self.sdk(ruby)?;
        Ok((nogvl(ruby, work(client, key))?, stats))
    }

    /// Builds the client now (and resolves credentials/region), so boot
    /// fails early on a bad configuration instead of on the first request.
    fn connect(ruby: &Ruby, rb_self: &Self) -> Result<bool, Error> {
        rb_self.sdk(ruby).map(|_| true)
    }

    /// `get_item(Native::ItemRequest)` → Hash of attributes, or nil.
    fn get_item(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let consistent: bool = member(request, "consistent")?;
        let (found, stats) = rb_self.on_item(ruby, request, |client, key| async move {
            session::get(&client, &key, consistent).await
        })?;
        let found = found.map(|item| item::to_ruby(ruby, item)).transpose()?;
        with_stats(ruby, found.into_value_with(ruby), &stats)
    }

    /// `save_session(Native::SaveRequest)` → true when written, false when
    /// the condition refused it (a new id that exists, or an existing
    /// session that was deleted meanwhile).
    fn save_session(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let new_session: bool = member(request, "new_session")?;
        let save = Save {
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
        };
        let stats = save.key.stats.clone();
        let client = rb_self.sdk(ruby)?;
        let written = match nogvl(ruby, async move { session::save(&client, save).await })? {
            Saved::Written => true,
            Saved::ConditionFailed => false,
            Saved::LockLost => return Err(StoreError::LockLost.into_ruby(ruby)),
        };
        with_stats(ruby, written.into_value_with(ruby), &stats)
    }

    /// `move_session(Native::MoveRequest)` → `:moved`, `:source_gone` (the
    /// old item is gone) or `:refused` (it changed since it was read, or
    /// the new key is taken); nothing is written unless `:moved`. Raises
    /// `LockLostError` when our lock on the old item was taken over.
    fn move_session(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let (kind, text): (String, String) = member(request, "read_updated_at")?;
        let read_updated_at = item::typed_value(&kind, text).ok_or_else(|| {
            StoreError::Configuration(format!("read_updated_at: type {kind:?} is not S or N"))
                .into_ruby(ruby)
        })?;
        let mv = Move {
            to: item_key(request)?,
            from_key: member(request, "from_key")?,
            data: member(request, "data")?,
            created_at: member(request, "created_at")?,
            expire_at: member(request, "expire_at")?,
            read_updated_at,
            lock: member(request, "lock")?,
        };
        let stats = mv.to.stats.clone();
        let client = rb_self.sdk(ruby)?;
        let outcome = match nogvl(ruby, async move { session::move_to(&client, mv).await })? {
            Moved::Moved => "moved",
            Moved::SourceGone => "source_gone",
            Moved::Refused => "refused",
            Moved::LockLost => return Err(StoreError::LockLost.into_ruby(ruby)),
        };
        with_stats(ruby, ruby.to_symbol(outcome).as_value(), &stats)
    }

    /// `lock_session(Native::LockRequest)` → `[item, lock]`, or nil when
    /// there is no such item. Raises `LockWaitTimeoutError` after
    /// `max_wait_ms`.
    fn lock_session(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let consistent: bool = member(request, "consistent")?;
        let ms = |name| member::<u64>(request, name).map(Duration::from_millis);
        let timing = LockTiming {
            expiry: ms("expiry_ms")?,
            retry_delay: ms("retry_delay_ms")?,
            max_wait: ms("max_wait_ms")?,
        };
        let (locked, stats) = rb_self.on_item(ruby, request, |client, key| async move {
            lock::acquire(&client, &key, consistent, timing).await
        })?;
        let value = match locked {
            Locked::Acquired { item, lock } => {
                (item::to_ruby(ruby, item)?, lock).into_value_with(ruby)
            }
            Locked::Missing => ruby.qnil().as_value(),
        };
        with_stats(ruby, value, &stats)
    }

    /// `release_lock(Native::LockedItem)` → true if it was still ours.
    fn release_lock(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let lock: String = member(request, "lock")?;
        let (released, stats) = rb_self.on_item(ruby, request, |client, key| async move {
            lock::release(&client, &key, lock).await
        })?;
        with_stats(ruby, released.into_value_with(ruby), &stats)
    }

    /// `delete_item(Native::ItemRequest)`.
    fn delete_item(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let ((), stats) = rb_self.on_item(ruby, request, |client, key| async move {
            session::delete(&client, &key).await
        })?;
        with_stats(ruby, ruby.qnil().as_value(), &stats)
    }

    /// `create_table(Native::TableRequest)` → `:created` or `:exists`.
    fn create_table(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let billing_mode: String = member(request, "billing_mode")?;
        let billing = match billing_mode.as_str() {
            "pay_per_request" => Billing::PayPerRequest,
            "provisioned" => Billing::Provisioned {
                read: member(request, "read_capacity")?,
                write: member(request, "write_capacity")?,
            },
            other => {
                return Err(StoreError::Configuration(format!(
                    "option :billing_mode must be :provisioned or :pay_per_request, not {other:?}"
                ))
                .into_ruby(ruby))
            }
        };
        let spec = CreateTable {
            table: member(request, "table")?,
            key_name: member(request, "key_name")?,
            billing,
            enable_ttl: member(request, "enable_ttl")?,
        };
        let client = rb_self.sdk(ruby)?;
        let created = nogvl(ruby, async move { table::create(&client, spec).await })?;
        Ok(ruby
            .to_symbol(match created {
                Created::Created => "created",
                Created::AlreadyExisted => "exists",
            })
            .as_value())
    }

    /// `delete_table(table)` → `:deleted` or `:missing`.
    fn delete_table(ruby: &Ruby, rb_self: &Self, table: String) -> Result<Value, Error> {
        let client = rb_self.sdk(ruby)?;
        let deleted = nogvl(ruby, async move { table::delete(&client, &table).await })?;
        Ok(ruby
            .to_symbol(match deleted {
                Deleted::Deleted => "deleted",
                Deleted::Missing => "missing",
            })
            .as_value())
    }

    /// `collect_garbage(Native::GcRequest, progress)` → Hash of `scanned`,
    /// `matched`, `deleted`, `elapsed`, `consumed_capacity`, `dry_run`.
    ///
    /// The scan runs as a task on the runtime; this thread waits for it in
    /// slices with the GVL released and calls `progress` (if given) with
    /// the counters after each slice; `progress` returning `false` stops the
    /// run between batches. An interrupt (Ctrl-C, SIGTERM, Thread#raise)
    /// also stops it between batches: the batches in flight complete, the
    /// final counters go to `progress`, then the exception propagates. A
    /// second interrupt abandons the run at once.
    fn collect_garbage(
        ruby: &Ruby,
        rb_self: &Self,
        request: RStruct,
        progress: Option<Proc>,
    ) -> Result<RHash, Error> {
        let operation_delay: f64 = member(request, "operation_delay")?;
        let dry_run: bool = member(request, "dry_run")?;
        let spec = GcSpec {
            table: member(request, "table")?,
            key_name: member(request, "key_name")?,
            max_age: member(request, "max_age")?,
            max_stale: member(request, "max_stale")?,
            segments: member(request, "segments")?,
            operation_delay: Duration::try_from_secs_f64(operation_delay).map_err(|_| {
                StoreError::Configuration(
                    "option :gc_operation_delay must be a non-negative number of seconds".into(),
                )
                .into_ruby(ruby)
            })?,
            max_deletes_per_second: member(request, "max_deletes_per_second")?,
            dry_run,
        };
        let client = rb_self.sdk(ruby)?;
        let counters = Arc::new(GcProgress::default());
        let started = std::time::Instant::now();
        let runtime = runtime::current().map_err(|e| e.into_ruby(ruby))?;
        let mut task = runtime.spawn(gc::collect(client, spec, counters.clone()));
        let mut interrupted: Option<Error> = None;
        let outcome = loop {
            let slice = nogvl(ruby, async {
                Ok(tokio::time::timeout(PROGRESS_EVERY, &mut task).await.ok())
            });
            match slice {
                Ok(Some(joined)) => {
                    break joined.unwrap_or_else(|e| {
                        Err(StoreError::Internal(format!("GC task failed: {e}")))
                    })
                }
                Ok(None) => {
                    if let Some(proc) = progress {
                        let stats = gc_stats(ruby, &counters, started, dry_run)?;
                        let answer: Value = proc.call((stats,))?;
                        if answer.is_kind_of(ruby.class_false_class()) {
                            counters.stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Err(e) => {
                    counters.stop.store(true, Ordering::Relaxed);
                    if interrupted.is_some() {
                        task.abort();
                        return Err(e);
                    }
                    interrupted = Some(e);
                }
            }
        };
        let stats = gc_stats(ruby, &counters, started, dry_run)?;
        if let Some(proc) = progress {
            if interrupted.is_some() || outcome.is_err() {
                stats.aset(ruby.to_symbol("interrupted"), interrupted.is_some())?;
                let _: Value = proc.call((stats,))?;
            }
        }
        if let Some(e) = interrupted {
            return Err(e);
        }
        outcome.map_err(|e| e.into_ruby(ruby))?;
        Ok(stats)
    }

    /// `scan_page(Native::ScanRequest)` → `[items, next_key]`: whole items
    /// with S/N values as `[type, text]` (Native::Client#rewrite_item takes
    /// them back), and the key to pass as `start_key` for the next page, or
    /// nil after the last.
    fn scan_page(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<Value, Error> {
        let table: String = member(request, "table")?;
        let limit: i32 = member(request, "limit")?;
        let start: Option<RHash> = member(request, "start_key")?;
        let start_key = match start {
            Some(hash) => Some(string_map(hash)?),
            None => None,
        };
        let client = rb_self.sdk(ruby)?;
        let (items, next) = nogvl(ruby, async move {
            migrate::scan_page(&client, &table, start_key, limit).await
        })?;
        let list = ruby.ary_new_capa(items.len());
        for found in items {
            list.push(item::to_ruby_typed(ruby, found)?)?;
        }
        let next = match next {
            Some(key) => {
                let hash = ruby.hash_new();
                for (name, value) in key {
                    if let AttributeValue::S(text) = value {
                        hash.aset(name, text)?;
                    }
                }
                hash.as_value()
            }
            None => ruby.qnil().as_value(),
        };
        Ok(ruby
            .ary_new_from_values(&[list.as_value(), next])
            .as_value())
    }

    /// `rewrite_item(Native::RewriteRequest)` → true when written, false
    /// when an `expected` value no longer held (the item changed or is gone).
    fn rewrite_item(ruby: &Ruby, rb_self: &Self, request: RStruct) -> Result<bool, Error> {
        let expected = typed_list(ruby, member(request, "expected")?)?;
        let set = typed_list(ruby, member(request, "set")?)?;
        let (written, _) = rb_self.on_item(ruby, request, |client, key| async move {
            migrate::rewrite(&client, &key, expected, set).await
        })?;
        Ok(written)
    }

    /// `describe_table(table)` → Hash with status, item_count, size_bytes,
    /// billing_mode, key_name, ttl_status, ttl_attribute.
    fn describe_table(ruby: &Ruby, rb_self: &Self, table: String) -> Result<RHash, Error> {
        let client = rb_self.sdk(ruby)?;
        let d = nogvl(ruby, async move { table::describe(&client, &table).await })?;
        let hash = ruby.hash_new();
        hash.aset(ruby.to_symbol("status"), d.status)?;
        hash.aset(ruby.to_symbol("item_count"), d.item_count)?;
        hash.aset(ruby.to_symbol("size_bytes"), d.size_bytes)?;
        hash.aset(ruby.to_symbol("billing_mode"), d.billing_mode)?;
        hash.aset(ruby.to_symbol("key_name"), d.key_name)?;
        hash.aset(ruby.to_symbol("ttl_status"), d.ttl_status)?;
        hash.aset(ruby.to_symbol("ttl_attribute"), d.ttl_attribute)?;
        Ok(hash)
    }
}

const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// One member of a request Struct (`lib/aws/session_store/dynamo_db/native.rb`),
/// converted: a missing member raises NameError, a wrong type TypeError;
/// never a panic.
fn member<T: TryConvert>(request: RStruct, name: &str) -> Result<T, Error> {
    request.getmember(name)
}

/// A Hash of attribute name to String as S values (a scan's start key).
fn string_map(hash: RHash) -> Result<HashMap<String, AttributeValue>, Error> {
    let mut map = HashMap::new();
    hash.foreach(|name: String, value: String| {
        map.insert(name, AttributeValue::S(value));
        Ok(magnus::r_hash::ForEach::Continue)
    })?;
    Ok(map)
}

/// `[[name, type, text], ...]` (type "S" or "N") as attribute values.
fn typed_list(ruby: &Ruby, list: RArray) -> Result<Vec<(String, AttributeValue)>, Error> {
    let mut out = Vec::with_capacity(list.len());
    for entry in list.into_iter() {
        let (name, kind, text): (String, String, String) = TryConvert::try_convert(entry)?;
        let value = item::typed_value(&kind, text).ok_or_else(|| {
            StoreError::Configuration(format!("attribute {name:?}: type {kind:?} is not S or N"))
                .into_ruby(ruby)
        })?;
        out.push((name, value));
    }
    Ok(out)
}

/// The item a request names: its `table`, `key_name` and `key` members.
fn item_key(request: RStruct) -> Result<ItemKey, Error> {
    let instrument: Option<bool> = member(request, "instrument")?;
    Ok(ItemKey {
        table: member(request, "table")?,
        key_name: member(request, "key_name")?,
        key: member(request, "key")?,
        stats: instrument
            .unwrap_or(false)
            .then(|| Arc::new(CallStats::default())),
    })
}

/// The call's result, or `[result, stats]` when the request asked for
/// stats (`instrument: true`): DynamoDB calls, HTTP attempts, retries and
/// consumed capacity units.
fn with_stats(ruby: &Ruby, value: Value, stats: &Option<Arc<CallStats>>) -> Result<Value, Error> {
    let Some(stats) = stats else {
        return Ok(value);
    };
    let hash = ruby.hash_new();
    hash.aset(ruby.to_symbol("calls"), stats.calls.load(Ordering::Relaxed))?;
    hash.aset(
        ruby.to_symbol("attempts"),
        stats.attempts.load(Ordering::Relaxed),
    )?;
    hash.aset(ruby.to_symbol("retries"), stats.retries())?;
    hash.aset(ruby.to_symbol("consumed_capacity"), stats.capacity())?;
    Ok(ruby
        .ary_new_from_values(&[value, hash.as_value()])
        .as_value())
}

fn gc_stats(
    ruby: &Ruby,
    counters: &GcProgress,
    started: std::time::Instant,
    dry_run: bool,
) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    hash.aset(
        ruby.to_symbol("scanned"),
        counters.scanned.load(Ordering::Relaxed),
    )?;
    hash.aset(
        ruby.to_symbol("matched"),
        counters.matched.load(Ordering::Relaxed),
    )?;
    hash.aset(
        ruby.to_symbol("deleted"),
        counters.deleted.load(Ordering::Relaxed),
    )?;
    hash.aset(ruby.to_symbol("elapsed"), started.elapsed().as_secs_f64())?;
    hash.aset(ruby.to_symbol("consumed_capacity"), counters.capacity())?;
    hash.aset(ruby.to_symbol("dry_run"), dry_run)?;
    Ok(hash)
}

pub fn init(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Client", ruby.class_object())?;
    class.define_singleton_method("new", function!(Client::new, 1))?;
    class.define_method("connect", method!(Client::connect, 0))?;
    class.define_method("get_item", method!(Client::get_item, 1))?;
    class.define_method("save_session", method!(Client::save_session, 1))?;
    class.define_method("move_session", method!(Client::move_session, 1))?;
    class.define_method("delete_item", method!(Client::delete_item, 1))?;
    class.define_method("lock_session", method!(Client::lock_session, 1))?;
    class.define_method("release_lock", method!(Client::release_lock, 1))?;
    class.define_method("create_table", method!(Client::create_table, 1))?;
    class.define_method("delete_table", method!(Client::delete_table, 1))?;
    class.define_method("describe_table", method!(Client::describe_table, 1))?;
    class.define_method("scan_page", method!(Client::scan_page, 1))?;
    class.define_method("rewrite_item", method!(Client::rewrite_item, 1))?;
    class.define_method("collect_garbage", method!(Client::collect_garbage, 2))?;
    Ok(())
}

//! `Aws::SessionStore::DynamoDB::Native::Client`: one SDK client per
//! configuration, reused across requests and threads (keep-alive), rebuilt
//! in a forked child. Each method copies its Ruby arguments into owned Rust
//! data, runs the operation with the GVL released, and builds Ruby objects
//! after taking it back.
//!
//! This file holds the client itself (`new`, `connect`) and `init`; the
//! methods are split by area, one `impl Client` block per file under
//! `client/`: `session` (items and locks), `table`, `gc`, `migrate`, each
//! with its own `define`, which registers them. Reading a request
//! Struct is `client/request.rs`'s job, building the Hashes of counters
//! `client/results.rs`'s.

use std::sync::{Arc, Mutex};

use magnus::{function, method, prelude::*, Error, RHash, RModule, Ruby};

use crate::error::StoreError;
use crate::helpers::gvl::nogvl;
use crate::helpers::runtime;
use crate::ops::connect::{self, ClientOptions};
use crate::ops::item::ItemKey;
use crate::ops::stats::CallStats;
use crate::ruby_api::options;

mod gc;
mod migrate;
mod request;
mod results;
mod session;
mod table;

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

    /// Runs `work` with this process's client on the item `key` names, the
    /// GVL released; returns its result and the key's stats (if asked for).
    fn on_key<T, F>(
        &self,
        ruby: &Ruby,
        key: ItemKey,
        work: impl FnOnce(aws_sdk_dynamodb::Client, ItemKey) -> F,
    ) -> Result<(T, Option<Arc<CallStats>>), Error>
    where
        F: std::future::Future<Output = Result<T, StoreError>> + Send,
        T: Send,
    {
        let stats = key.stats.clone();
        Ok((self.run(ruby, |client| work(client, key))?, stats))
    }

    /// Runs `work` with this process's client, the GVL released.
    fn run<T, F>(
        &self,
        ruby: &Ruby,
        work: impl FnOnce(aws_sdk_dynamodb::Client) -> F,
    ) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, StoreError>> + Send,
        T: Send,
    {
        let client = self.sdk(ruby)?;
        nogvl(ruby, work(client))
    }

    /// Builds the client now (and resolves credentials/region), so boot
    /// fails early on a bad configuration instead of on the first request.
    fn connect(ruby: &Ruby, rb_self: &Self) -> Result<bool, Error> {
        rb_self.sdk(ruby).map(|_| true)
    }
}

pub fn init(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Client", ruby.class_object())?;
    class.define_singleton_method("new", function!(Client::new, 1))?;
    class.define_method("connect", method!(Client::connect, 0))?;
    session::define(class)?;
    table::define(class)?;
    migrate::define(class)?;
    gc::define(class)?;
    Ok(())
}

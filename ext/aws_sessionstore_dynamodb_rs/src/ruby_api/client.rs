//! `Aws::SessionStore::DynamoDB::Native::Client`: one SDK client per
//! configuration, reused across requests and threads (keep-alive), rebuilt
//! in a forked child. Each method is one line: magnus reads its request
//! Struct into owned Rust data (`client/request.rs`, a `TryConvert` per
//! shape), `call` runs the operation with the GVL released, and the
//! outcome becomes a Ruby value after taking it back (`client/results.rs`,
//! `Answer`).
//!
//! This file holds the client itself (`new`, `connect`, `call`) and
//! `init`; the methods are split by area, one `impl Client` block per file
//! under `client/`: `session` (items and locks), `table`, `gc`, `migrate`,
//! each with its own `define`, which registers them.

use std::sync::{Arc, Mutex};

use magnus::{function, method, prelude::*, Error, RHash, RModule, Ruby, Value};

use crate::error::StoreError;
use crate::helpers::gvl::nogvl;
use crate::helpers::runtime;
use crate::ops::connect::{self, ClientOptions};
use crate::ruby_api::options;
use request::Request;
use results::{with_operations, with_stats, Answer};

mod gc;
mod migrate;
mod request;
mod results;
mod session;
mod table;
mod users;

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

    /// Every binding's one step: runs `work` on its request with this
    /// process's client, the GVL released, and returns what Ruby gets: the
    /// outcome as a Ruby value (`Answer`), paired with the call's stats
    /// when the request asked for them (`[result, stats]`).
    fn call<R, T, F>(
        &self,
        ruby: &Ruby,
        request: R,
        work: impl FnOnce(aws_sdk_dynamodb::Client, R) -> F,
    ) -> Result<Value, Error>
    where
        R: Request,
        F: std::future::Future<Output = Result<T, StoreError>> + Send,
        T: Answer + Send,
    {
        let stats = request.stats();
        let client = self.sdk(ruby)?;
        let outcome = nogvl(ruby, work(client, request))
            .map_err(|error| with_operations(ruby, error, &stats))?;
        with_stats(ruby, outcome.answer(ruby)?, &stats)
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
    users::define(class)?;
    Ok(())
}

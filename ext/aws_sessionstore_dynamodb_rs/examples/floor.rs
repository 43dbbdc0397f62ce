//! The floor under the store's request path: the same GetItem + UpdateItem
//! pair a request of the Rack middleware makes (consistent read, then a
//! conditional update of `updated_at` and `data`), issued straight from Rust
//! with aws-sdk-dynamodb, with no Ruby at all. `rake bench` compares the
//! store's process CPU per request with this one's per pair.
//!
//!   cargo run --release --example floor -- <endpoint> <table> <pairs> [current|multi]
//!
//! The table must exist with hash key `session_id` (S). The client is the
//! extension's own (`ops::connect::build_with`, the store's default options:
//! connect 1 s, operation 5 s, 10 attempts; explicit endpoint, dummy keys),
//! and so is the allocator (mimalloc, from `src/lib.rs`). Each pair
//! is driven by `block_on` from the calling thread, on a current-thread
//! runtime by default (as the extension's session calls, and the cheapest
//! way to drive the SDK), or with `multi` on a multi-thread runtime of at
//! most 2 workers (built with `--features multi-thread-runtime`; the
//! comparison that chose the current-thread one). Prints wall and
//! process CPU (getrusage RUSAGE_SELF, every thread included) per pair,
//! p50/p99/mean, then the same figures as one JSON line.
//!
//! For measuring (README, Performance):
//! - `--features count-allocs` also prints heap allocations (and bytes
//!   requested) per GetItem, per UpdateItem and per pair;
//! - `FLOOR_LEVERS=a,b` changes the client or the calls, one configuration
//!   lever each: `no-identity-cache`, `retry-off`, `custom-bucket` (a retry
//!   partition of its own, default token bucket), `unlimited-token-bucket`,
//!   `account-id-endpoint-disabled`, `no-clock-skew`, `http-plain` (a
//!   hyper client without TLS: http:// only), `http-rustls` (the default
//!   client built explicitly), `customize` (GetItem through `.customize()`),
//!   `prebuilt` (both fluent builders built once, cloned per call). None of
//!   them is the store's setting.

// A benchmark program: a failed set-up ends the run with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_dynamodb::config::IdentityCache;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use aws_sessionstore_dynamodb_rs::ops::connect::{self, ClientOptions};
use aws_smithy_http_client::tls;
use aws_types::endpoint_config::AccountIdEndpointMode;

const KEY_NAME: &str = "session_id";

/// Allocations and bytes per GetItem and per UpdateItem, summed over the
/// measured pairs.
#[derive(Default)]
struct AllocCount {
    get: (u64, u64),
    update: (u64, u64),
}

#[cfg(feature = "count-allocs")]
fn alloc_now() -> (u64, u64) {
    aws_sessionstore_dynamodb_rs::alloc_count::now()
}

#[cfg(not(feature = "count-allocs"))]
fn alloc_now() -> (u64, u64) {
    (0, 0)
}

/// `FLOOR_LEVERS`: comma-separated configuration levers (README,
/// Performance), for measuring one against the settings above.
fn lever(name: &str) -> bool {
    static LEVERS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LEVERS
        .get_or_init(|| std::env::var("FLOOR_LEVERS").unwrap_or_default())
        .split(',')
        .any(|l| l.trim() == name)
}

fn usage() -> ! {
    eprintln!("usage: floor <endpoint> <table> <pairs> [current|multi]");
    std::process::exit(2);
}

/// Process CPU time (user + system, all threads) so far.
fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            panic!("getrusage failed: {}", std::io::Error::last_os_error());
        }
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn now_string() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    format!("{secs}")
}

/// The extension's client (`ops::connect::build_with`) with the store's
/// default options, plus the levers of `FLOOR_LEVERS`.
async fn build_client(endpoint: &str) -> Client {
    let options = ClientOptions {
        endpoint: Some(endpoint.to_string()),
        access_key_id: Some("dummy".into()),
        secret_access_key: Some("dummy".into()),
        connect_timeout: Some(Duration::from_secs(1)),
        operation_timeout: Some(Duration::from_secs(5)),
        max_attempts: Some(10),
        ..ClientOptions::default()
    };
    connect::build_with(options, |mut config| {
        if lever("no-identity-cache") {
            config = config.identity_cache(IdentityCache::no_cache());
        }
        if lever("retry-off") {
            config = config.retry_config(RetryConfig::disabled());
        }
        if lever("custom-bucket") {
            config = config.retry_partition(
                RetryPartition::custom("floor")
                    .token_bucket(TokenBucket::default())
                    .build(),
            );
        }
        if lever("unlimited-token-bucket") {
            config = config.retry_partition(
                RetryPartition::custom("floor")
                    .token_bucket(TokenBucket::unlimited())
                    .build(),
            );
        }
        if lever("account-id-endpoint-disabled") {
            config = config.account_id_endpoint_mode(AccountIdEndpointMode::Disabled);
        }
        if lever("no-clock-skew") {
            config = config.disable_clock_skew_correction(true);
        }
        if lever("http-plain") {
            config = config.http_client(aws_smithy_http_client::Builder::new().build_http());
        }
        if lever("http-rustls") {
            config = config.http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .build_https(),
            );
        }
        config
    })
    .await
    .expect("the client")
}

/// The constant part of the pair's UpdateItem.
fn update_builder(client: &Client, table: &str, key: &str) -> UpdateItemFluentBuilder {
    client
        .update_item()
        .table_name(table)
        .key(KEY_NAME, AttributeValue::S(key.to_string()))
        .update_expression("SET #u = :u, #d = :d REMOVE #e")
        .condition_expression("attribute_exists(#k)")
        .expression_attribute_names("#k", KEY_NAME)
        .expression_attribute_names("#u", "updated_at")
        .expression_attribute_names("#d", "data")
        .expression_attribute_names("#e", "expire_at")
}

/// Lever `prebuilt`: both fluent builders built once and cloned per call.
static PREBUILT: std::sync::OnceLock<(GetItemFluentBuilder, UpdateItemFluentBuilder)> =
    std::sync::OnceLock::new();

/// One request's worth of DynamoDB: read the session, write it back changed.
async fn pair(client: &Client, table: &str, key: &str, n: u64, count: &mut AllocCount) {
    let before = alloc_now();
    let get = match PREBUILT.get() {
        Some((get, _)) => get.clone(),
        None => client
            .get_item()
            .table_name(table)
            .key(KEY_NAME, AttributeValue::S(key.to_string()))
            .consistent_read(true),
    };
    let got = if lever("customize") {
        get.customize().send().await
    } else {
        get.send().await
    }
    .expect("GetItem");
    assert!(got.item.is_some(), "the session item is gone");
    drop(got);
    let between = alloc_now();
    match PREBUILT.get() {
        Some((_, update)) => update.clone(),
        None => update_builder(client, table, key),
    }
    .expression_attribute_values(":u", AttributeValue::S(now_string()))
    .expression_attribute_values(":d", AttributeValue::S(format!("{{\"n\":{n}}}")))
    .return_values(ReturnValue::None)
    .send()
    .await
    .expect("UpdateItem");
    let after = alloc_now();
    count.get.0 += between.0 - before.0;
    count.get.1 += between.1 - before.1;
    count.update.0 += after.0 - between.0;
    count.update.1 += after.1 - between.1;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(feature = "multi-thread-runtime")]
fn multi_thread_runtime() -> (std::io::Result<tokio::runtime::Runtime>, usize) {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get().clamp(1, 2))
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build();
    (runtime, workers)
}

#[cfg(not(feature = "multi-thread-runtime"))]
fn multi_thread_runtime() -> (std::io::Result<tokio::runtime::Runtime>, usize) {
    eprintln!("floor: `multi` needs a build with --features multi-thread-runtime");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (endpoint, table, pairs, flavor) = match args.as_slice() {
        [e, t, p] => (e, t, p, "current"),
        [e, t, p, f] if f == "current" || f == "multi" => (e, t, p, f.as_str()),
        _ => usage(),
    };
    let pairs: u64 = pairs.parse().unwrap_or_else(|_| usage());
    if pairs == 0 {
        usage();
    }

    let (runtime, workers) = if flavor == "multi" {
        multi_thread_runtime()
    } else {
        (
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            0,
        )
    };
    let runtime = runtime.expect("tokio runtime");
    let client = runtime.block_on(build_client(endpoint));
    let key = format!("floor-{}-{}", std::process::id(), now_string());
    if lever("prebuilt") {
        let get = client
            .get_item()
            .table_name(table)
            .key(KEY_NAME, AttributeValue::S(key.clone()))
            .consistent_read(true);
        let _ = PREBUILT.set((get, update_builder(&client, table, &key)));
    }

    // The session exists before the first request, as for the store.
    runtime
        .block_on(
            client
                .update_item()
                .table_name(table)
                .key(KEY_NAME, AttributeValue::S(key.clone()))
                .update_expression("SET #c = :c, #u = :c, #d = :d")
                .expression_attribute_names("#c", "created_at")
                .expression_attribute_names("#u", "updated_at")
                .expression_attribute_names("#d", "data")
                .expression_attribute_values(":c", AttributeValue::S(now_string()))
                .expression_attribute_values(":d", AttributeValue::S("{\"n\":0}".into()))
                .send(),
        )
        .expect("creating the session item");

    // Warm-up, like bench/request_cpu.rb: connections, first-call paths.
    let mut n = 0;
    for _ in 0..(pairs / 10).max(1) {
        n += 1;
        runtime.block_on(pair(&client, table, &key, n, &mut AllocCount::default()));
    }

    let mut walls = Vec::with_capacity(pairs as usize);
    let mut cpus = Vec::with_capacity(pairs as usize);
    let total_wall = Instant::now();
    let total_cpu = process_cpu();
    let mut count = AllocCount::default();
    for _ in 0..pairs {
        n += 1;
        let wall = Instant::now();
        let cpu = process_cpu();
        runtime.block_on(pair(&client, table, &key, n, &mut count));
        cpus.push(process_cpu().saturating_sub(cpu));
        walls.push(wall.elapsed());
    }
    let total_cpu = process_cpu().saturating_sub(total_cpu);
    let total_wall = total_wall.elapsed();
    walls.sort();
    cpus.sort();

    let (w50, w99) = (
        micros(percentile(&walls, 0.5)),
        micros(percentile(&walls, 0.99)),
    );
    let (c50, c99) = (
        micros(percentile(&cpus, 0.5)),
        micros(percentile(&cpus, 0.99)),
    );
    let wall_mean = micros(total_wall) / pairs as f64;
    let cpu_mean = micros(total_cpu) / pairs as f64;
    let shape = if workers == 0 {
        "current-thread runtime".to_string()
    } else {
        format!("multi-thread runtime, {workers} workers")
    };
    println!("{pairs} GetItem + UpdateItem pairs from Rust (aws-sdk-dynamodb), {shape}");
    println!("wall per pair: p50 {w50:.0} us, p99 {w99:.0} us, mean {wall_mean:.0} us");
    println!(
        "process CPU per pair (getrusage): p50 {c50:.0} us, p99 {c99:.0} us, mean {cpu_mean:.0} us"
    );
    if cfg!(feature = "count-allocs") {
        let per = |(a, b): (u64, u64)| (a as f64 / pairs as f64, b as f64 / pairs as f64);
        let (ga, gb) = per(count.get);
        let (ua, ub) = per(count.update);
        println!(
            "heap allocations: GetItem {ga:.1} ({gb:.0} bytes), UpdateItem {ua:.1} ({ub:.0} bytes), pair {:.1} ({:.0} bytes)",
            ga + ua,
            gb + ub
        );
    }
    println!(
        "{{\"pairs\":{pairs},\"runtime\":\"{flavor}\",\"wall_p50_us\":{w50:.1},\"wall_p99_us\":{w99:.1},\"wall_mean_us\":{wall_mean:.1},\
         \"cpu_p50_us\":{c50:.1},\"cpu_p99_us\":{c99:.1},\"cpu_mean_us\":{cpu_mean:.1}}}"
    );
}

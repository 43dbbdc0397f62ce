//! The floor under the store's request path: the same GetItem + UpdateItem
//! pair a request of the Rack middleware makes (consistent read, then a
//! conditional update of `updated_at` and `data`), issued straight from Rust
//! with aws-sdk-dynamodb, with no Ruby at all. `rake bench` compares the
//! store's process CPU per request with this one's per pair.
//!
//!   cargo run --release --example floor -- <endpoint> <table> <pairs> [current|multi]
//!
//! The table must exist with hash key `session_id` (S). Same client settings
//! as the extension's SDK client (explicit endpoint and dummy credentials,
//! stalled-stream protection off, the same timeouts and retries). Each pair
//! is driven by `block_on` from the calling thread, on a current-thread
//! runtime by default (as the extension's session calls, and the cheapest
//! way to drive the SDK), or with `multi` on a multi-thread runtime of at
//! most 2 workers (as the extension's table and GC calls). Prints wall and
//! process CPU (getrusage RUSAGE_SELF, every thread included) per pair,
//! p50/p99/mean, then the same figures as one JSON line.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;

const KEY_NAME: &str = "session_id";

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

async fn build_client(endpoint: &str) -> Client {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("dummy", "dummy", None, None, "floor"))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .load()
        .await;
    Client::new(&shared)
}

/// One request's worth of DynamoDB: read the session, write it back changed.
async fn pair(client: &Client, table: &str, key: &str, n: u64) {
    let got = client
        .get_item()
        .table_name(table)
        .key(KEY_NAME, AttributeValue::S(key.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    assert!(got.item.is_some(), "the session item is gone");
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
        .expression_attribute_values(":u", AttributeValue::S(now_string()))
        .expression_attribute_values(":d", AttributeValue::S(format!("{{\"n\":{n}}}")))
        .return_values(ReturnValue::None)
        .send()
        .await
        .expect("UpdateItem");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
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
        let workers = std::thread::available_parallelism()
            .map(|n| n.get().clamp(1, 2))
            .unwrap_or(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build();
        (runtime, workers)
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
        runtime.block_on(pair(&client, table, &key, n));
    }

    let mut walls = Vec::with_capacity(pairs as usize);
    let mut cpus = Vec::with_capacity(pairs as usize);
    let total_wall = Instant::now();
    let total_cpu = process_cpu();
    for _ in 0..pairs {
        n += 1;
        let wall = Instant::now();
        let cpu = process_cpu();
        runtime.block_on(pair(&client, table, &key, n));
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
    println!(
        "{{\"pairs\":{pairs},\"runtime\":\"{flavor}\",\"wall_p50_us\":{w50:.1},\"wall_p99_us\":{w99:.1},\"wall_mean_us\":{wall_mean:.1},\
         \"cpu_p50_us\":{c50:.1},\"cpu_p99_us\":{c99:.1},\"cpu_mean_us\":{cpu_mean:.1}}}"
    );
}

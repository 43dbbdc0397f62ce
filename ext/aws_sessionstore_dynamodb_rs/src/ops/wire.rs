//! The session hot path: DynamoDB's JSON protocol over one keep-alive
//! connection per Ruby thread, signed with SigV4, without the SDK.
//!
//! A session request is one or two small calls, and the SDK's generic
//! machinery (interceptors, endpoint rules, per-call config layers) and an
//! async HTTP stack cost several times more client CPU than the call itself.
//! Here: one JSON body, one signature, one write and one read on the
//! calling thread (`ops::http`). Credentials, region and endpoint come from
//! the same aws-config chain the SDK client uses; table management and
//! garbage collection stay on the SDK.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use rustls::ClientConfig;
use serde_json::{Map, Value};

use crate::error::StoreError;
use crate::helpers::runtime;
use crate::item::Item;
use crate::ops::http::{Connection, Endpoint, Response};
use crate::ops::interrupt::Interrupt;
use crate::ops::sigv4::{Keys, Signer, CONTENT_TYPE};

/// Refresh expiring credentials this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
const USER_AGENT: &str = concat!("aws-sessionstore-dynamodb-rs/", env!("CARGO_PKG_VERSION"));

pub struct WireClient {
    endpoint: Endpoint,
    tls: Option<Arc<ClientConfig>>,
    provider: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    signer: Mutex<Signer>,
    connection: Mutex<Option<Connection>>,
    connect_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    max_attempts: u32,
}

#[derive(Clone)]
pub struct WireOptions {
    pub endpoint: String,
    pub region: String,
    pub provider: Option<SharedCredentialsProvider>,
    /// Built once per process, for https endpoints.
    pub tls: Option<Arc<ClientConfig>>,
    pub connect_timeout: Option<Duration>,
    pub operation_timeout: Option<Duration>,
    pub max_attempts: u32,
}

/// A DynamoDB call that failed its condition, with the old item when the
/// request asked for it.
#[derive(Debug)]
pub enum Answer {
    Ok(Map<String, Value>),
    ConditionFailed(Option<Item>),
}

impl WireClient {
    pub fn new(options: WireOptions) -> Result<Self, StoreError> {
        let endpoint = Endpoint::parse(&options.endpoint)?;
        if endpoint.is_tls() && options.tls.is_none() {
            return Err(StoreError::Internal(
                "https endpoint without TLS settings".into(),
            ));
        }
        Ok(WireClient {
            endpoint,
            tls: options.tls,
            provider: options.provider,
            cached: Mutex::new(None),
            signer: Mutex::new(Signer::new(&options.region)),
            connection: Mutex::new(None),
            connect_timeout: options.connect_timeout,
            operation_timeout: options.operation_timeout,
            max_attempts: options.max_attempts.max(1),
        })
    }

    /// Calls `DynamoDB_20120810.<operation>` with `body`, retrying throttling,
    /// 5xx and connection failures with jittered exponential backoff, all
    /// within `operation_timeout`.
    pub fn call(
        &self,
        operation: &str,
        body: &Value,
        interrupt: &Interrupt,
    ) -> Result<Answer, StoreError> {
        let body = serde_json::to_vec(body).map_err(|e| StoreError::Internal(e.to_string()))?;
        let deadline = self.operation_timeout.map(|limit| Instant::now() + limit);
        let timed_out = || {
            StoreError::Timeout(format!(
                "no response within {} ms",
                self.operation_timeout.unwrap_or_default().as_millis()
            ))
        };
        let mut attempt = 1;
        loop {
            match self.attempt(operation, &body, deadline, interrupt) {
                Err(StoreError::Timeout(_)) if deadline.is_some() => return Err(timed_out()),
                Err(e) if attempt < self.max_attempts && retryable(&e) => {
                    let mut pause = backoff(attempt);
                    if let Some(at) = deadline {
                        let left = at.saturating_duration_since(Instant::now());
                        if left <= pause {
                            interrupt.sleep(left)?;
                            return Err(timed_out());
                        }
                        pause = pause.min(left);
                    }
                    interrupt.sleep(pause)?;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn attempt(
        &self,
        operation: &str,
        body: &[u8],
        deadline: Option<Instant>,
        interrupt: &Interrupt,
    ) -> Result<Answer, StoreError> {
        let credentials = self.credentials(deadline)?;
        let request = self.request(operation, body, &credentials)?;
        let response = self.send(&request, deadline, interrupt)?;
        answer(response)
    }

    /// The request's bytes: head and body in one buffer, one write.
    fn request(
        &self,
        operation: &str,
        body: &[u8],
        credentials: &Credentials,
    ) -> Result<Vec<u8>, StoreError> {
        let keys = Keys {
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        };
        // They go into header lines: no control characters.
        let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !printable(keys.access_key_id) || !keys.session_token.is_none_or(printable) {
            return Err(StoreError::Configuration(
                "AWS credentials contain characters that cannot be sent in a header".into(),
            ));
        }
        let target = format!("DynamoDB_20120810.{operation}");
        let signed = self.signer.lock().unwrap_or_else(|p| p.into_inner()).sign(
            &keys,
            &self.endpoint.authority,
            &target,
            body,
            SystemTime::now(),
        );
        let mut head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Target: {target}\r\n\
             X-Amz-Date: {}\r\nAuthorization: {}\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: {}\r\n",
            self.endpoint.authority,
            signed.amz_date,
            signed.authorization,
            body.len()
        );
        if let Some(token) = keys.session_token {
            head.push_str("X-Amz-Security-Token: ");
            head.push_str(token);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        Ok(request)
    }

    /// On this thread's connection, opened (again) when needed. A
    /// connection the server closed while idle is noticed before reuse
    /// (`Connection::usable`); one that fails mid-call is dropped, and the
    /// call's retries open a new one.
    fn send(
        &self,
        request: &[u8],
        deadline: Option<Instant>,
        interrupt: &Interrupt,
    ) -> Result<Response, StoreError> {
        let mut slot = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|c| !c.usable()) {
            *slot = None;
        }
        let connection = match slot.as_mut() {
            Some(connection) => connection,
            None => slot.insert(Connection::open(
                &self.endpoint,
                self.tls.as_ref(),
                self.connect_timeout,
                deadline,
                interrupt,
            )?),
        };
        let outcome = {
            let _watch = interrupt.watch(connection.fd())?;
            connection.exchange(request, deadline)
        };
        match outcome {
            Ok(response) => {
                if !response.keep_alive {
                    *slot = None;
                }
                Ok(response)
            }
            Err(e) => {
                *slot = None;
                interrupt.check()?;
                Err(e)
            }
        }
    }

    /// Cached until five minutes before they expire; loaded on the
    /// process's runtime (profiles, SSO, IMDS are async in the SDK).
    fn credentials(&self, deadline: Option<Instant>) -> Result<Credentials, StoreError> {
        {
            let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
                return Ok(c.clone());
            }
        }
        let provider = self.provider.clone().ok_or_else(|| {
            StoreError::Configuration(
                "no AWS credentials provider: set credentials or a profile".into(),
            )
        })?;
        let runtime = runtime::current()?;
        let limit = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        let loaded = runtime.block_on(async move {
            let load = provider.provide_credentials();
            match limit {
                Some(limit) => tokio::time::timeout(limit, load).await.map_err(|_| {
                    StoreError::Timeout("loading AWS credentials took too long".into())
                }),
                None => Ok(load.await),
            }
        })?;
        let loaded =
            loaded.map_err(|e| StoreError::Configuration(format!("no AWS credentials: {e}")))?;
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }
}

/// A response as an answer or DynamoDB's error.
fn answer(response: Response) -> Result<Answer, StoreError> {
    let status = response.status;
    let json: Value = if response.body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&response.body).map_err(|e| StoreError::Service {
            code: "InvalidResponse".into(),
            message: format!("unreadable response ({e})"),
            request_id: response.request_id.clone(),
            status: Some(status),
        })?
    };
    let Value::Object(map) = json else {
        return Err(StoreError::Service {
            code: "InvalidResponse".into(),
            message: "the response is not a JSON object".into(),
            request_id: response.request_id,
            status: Some(status),
        });
    };
    if status == 200 {
        return Ok(Answer::Ok(map));
    }
    let code = map
        .get("__type")
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| format!("HTTP{status}"));
    if code == "ConditionalCheckFailedException" {
        return Ok(Answer::ConditionFailed(
            map.get("Item").and_then(item_from_json),
        ));
    }
    let message = map
        .get("message")
        .or_else(|| map.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Err(StoreError::Service {
        code,
        message,
        request_id: response.request_id,
        status: Some(status),
    })
}

fn fresh(credentials: &Credentials) -> bool {
    match credentials.expiry() {
        None => true,
        Some(at) => at
            .duration_since(SystemTime::now())
            .map(|left| left > REFRESH_BEFORE)
            .unwrap_or(false),
    }
}

fn retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Service { code, status, .. } => {
            matches!(
                code.as_str(),
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "TransactionInProgressException"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            ) || status.is_some_and(|s| s >= 500)
        }
        StoreError::Network(_) => true,
        _ => false,
    }
}

/// Full jitter: a random pause up to base × 2^attempt, capped.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_CAP);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(7);
    let spread = (nanos.wrapping_mul(6364136223846793005) >> 11) % 1000;
    ceiling.mul_f64(0.5 + spread as f64 / 2000.0)
}

/// DynamoDB JSON (`{"S": "..."}`) to an SDK attribute value.
pub fn value_from_json(value: &Value) -> Option<AttributeValue> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_string()),
        "N" => AttributeValue::N(inner.as_str()?.to_string()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(Blob::new(
            aws_smithy_types::base64::decode(inner.as_str()?).ok()?,
        )),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(Vec::new()),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .filter_map(value_from_json)
                .collect(),
        ),
        "M" => AttributeValue::M(item_from_json(inner)?),
        _ => return None,
    })
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

pub fn item_from_json(value: &Value) -> Option<Item> {
    Some(
        value
            .as_object()?
            .iter()
            .filter_map(|(k, v)| value_from_json(v).map(|v| (k.clone(), v)))
            .collect(),
    )
}

/// An attribute value as DynamoDB JSON; the store only sends S and N.
pub fn value_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => serde_json::json!({ "S": s }),
        AttributeValue::N(n) => serde_json::json!({ "N": n }),
        AttributeValue::Bool(b) => serde_json::json!({ "BOOL": b }),
        AttributeValue::B(b) => {
            serde_json::json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) })
        }
        _ => serde_json::json!({ "NULL": true }),
    }
}

pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_round_trip() {
        let json = serde_json::json!({
            "s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"BOOL": true}, "z": {"NULL": true},
            "bin": {"B": "AAE="}, "m": {"M": {"k": {"S": "v"}}}
        });
        let item = item_from_json(&json).expect("item");
        assert_eq!(item["s"], AttributeValue::S("x".into()));
        assert_eq!(item["n"], AttributeValue::N("1.5".into()));
        assert_eq!(item["bin"], AttributeValue::B(Blob::new(vec![0, 1])));
        assert!(matches!(item["m"], AttributeValue::M(_)));
        assert_eq!(value_to_json(&item["s"]), serde_json::json!({"S": "x"}));
    }

    #[test]
    fn throttling_and_5xx_are_retried_conditions_are_not() {
        let throttled = StoreError::Service {
            code: "ThrottlingException".into(),
            message: String::new(),
            request_id: None,
            status: Some(400),
        };
        assert!(retryable(&throttled));
        let validation = StoreError::Service {
            code: "ValidationException".into(),
            message: String::new(),
            request_id: None,
            status: Some(400),
        };
        assert!(!retryable(&validation));
        assert!(retryable(&StoreError::Network("reset".into())));
        assert!(backoff(1) <= BACKOFF_CAP && backoff(30) <= BACKOFF_CAP);
    }
}

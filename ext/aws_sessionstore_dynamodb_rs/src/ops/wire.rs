//! The session hot path: DynamoDB's JSON protocol over a keep-alive hyper
//! client, signed with SigV4, without the SDK's orchestrator.
//!
//! A session request is one or two small calls, and the SDK's generic
//! machinery (interceptors, endpoint rules, per-call config layers) cost
//! several times more client CPU than the call itself. Here: one JSON body,
//! one signature, one HTTP round trip. Credentials, region and endpoint come
//! from the same aws-config chain the SDK client uses; table management and
//! garbage collection stay on the SDK.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::error::StoreError;
use crate::item::Item;
use crate::ops::sigv4::{Keys, Signer, CONTENT_TYPE};

pub type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Refresh expiring credentials this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

pub struct WireClient {
    http: HttpClient<Connector, Full<Bytes>>,
    uri: http::Uri,
    host: String,
    provider: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    signer: Mutex<Signer>,
    operation_timeout: Option<Duration>,
    max_attempts: u32,
}

#[derive(Clone)]
pub struct WireOptions {
    pub endpoint: String,
    pub region: String,
    pub provider: Option<SharedCredentialsProvider>,
    pub connector: Connector,
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

/// The connector (TLS roots included) is built once per process: loading
/// the system's root certificates takes milliseconds, and every Ruby thread
/// builds its own client from a clone.
pub fn connector(connect_timeout: Option<Duration>) -> Result<Connector, StoreError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| StoreError::Configuration(format!("cannot load TLS root certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

impl WireClient {
    pub fn new(options: WireOptions) -> Result<Self, StoreError> {
        let https = options.connector.clone();
        let uri: http::Uri = options.endpoint.parse().map_err(|e| {
            StoreError::Configuration(format!("invalid endpoint {:?}: {e}", options.endpoint))
        })?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| {
                StoreError::Configuration(format!("endpoint {:?} has no host", options.endpoint))
            })?;
        Ok(WireClient {
            http: HttpClient::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(https),
            uri,
            host,
            provider: options.provider,
            cached: Mutex::new(None),
            signer: Mutex::new(Signer::new(&options.region)),
            operation_timeout: options.operation_timeout,
            max_attempts: options.max_attempts.max(1),
        })
    }

    /// Calls `DynamoDB_20120810.<operation>` with `body`, retrying throttling,
    /// 5xx and connection failures with jittered exponential backoff.
    pub async fn call(&self, operation: &str, body: Value) -> Result<Answer, StoreError> {
        let body = Bytes::from(
            serde_json::to_vec(&body).map_err(|e| StoreError::Internal(e.to_string()))?,
        );
        let attempts = async {
            let mut attempt = 1;
            loop {
                match self.attempt(operation, body.clone()).await {
                    Err(e) if attempt < self.max_attempts && retryable(&e) => {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        };
        match self.operation_timeout {
            Some(limit) => tokio::time::timeout(limit, attempts)
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Timeout(format!(
                        "no response within {} ms",
                        limit.as_millis()
                    )))
                }),
            None => attempts.await,
        }
    }

    async fn attempt(&self, operation: &str, body: Bytes) -> Result<Answer, StoreError> {
        let credentials = self.credentials().await?;
        let target = format!("DynamoDB_20120810.{operation}");
        let mut request = http::Request::builder()
            .method("POST")
            .uri(self.uri.clone())
            .header("host", &self.host)
            .header("content-type", CONTENT_TYPE)
            .header("x-amz-target", &target)
            .body(Full::new(body.clone()))
            .map_err(|e| StoreError::Internal(format!("request: {e}")))?;
        self.sign(&mut request, &credentials, &target, &body)?;
        let response = self.http.request(request).await.map_err(connection_error)?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| StoreError::Network(format!("reading the response: {e}")))?
            .to_bytes();
        let json: Value = if bytes.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Service {
                code: "InvalidResponse".into(),
                message: format!("unreadable response ({e})"),
                request_id: request_id.clone(),
                status: Some(status),
            })?
        };
        let Value::Object(map) = json else {
            return Err(StoreError::Internal("response is not a JSON object".into()));
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
            request_id,
            status: Some(status),
        })
    }

    fn sign(
        &self,
        request: &mut http::Request<Full<Bytes>>,
        credentials: &Credentials,
        target: &str,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let keys = Keys {
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        };
        let signed = self.signer.lock().unwrap_or_else(|p| p.into_inner()).sign(
            &keys,
            &self.host,
            target,
            body,
            SystemTime::now(),
        );
        let headers = request.headers_mut();
        let value = |text: &str| {
            http::HeaderValue::from_str(text)
                .map_err(|e| StoreError::Configuration(format!("credentials: {e}")))
        };
        headers.insert("x-amz-date", value(&signed.amz_date)?);
        headers.insert("authorization", value(&signed.authorization)?);
        if let Some(token) = keys.session_token {
            headers.insert("x-amz-security-token", value(token)?);
        }
        Ok(())
    }

    /// Cached until five minutes before they expire.
    async fn credentials(&self) -> Result<Credentials, StoreError> {
        {
            let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
                return Ok(c.clone());
            }
        }
        let provider = self.provider.as_ref().ok_or_else(|| {
            StoreError::Configuration(
                "no AWS credentials provider: set credentials or a profile".into(),
            )
        })?;
        let loaded = provider
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Configuration(format!("no AWS credentials: {e}")))?;
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }
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
    let nanos =
        Instant::now().elapsed().as_nanos() as u64 ^ crate::ops::lock::lock_value().len() as u64;
    let spread = (nanos.wrapping_mul(6364136223846793005) >> 11) % 1000;
    ceiling.mul_f64(0.5 + spread as f64 / 2000.0)
}

fn connection_error(error: hyper_util::client::legacy::Error) -> StoreError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    if text.contains("timed out") || text.contains("timeout") {
        StoreError::Timeout(text)
    } else {
        StoreError::Network(text)
    }
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

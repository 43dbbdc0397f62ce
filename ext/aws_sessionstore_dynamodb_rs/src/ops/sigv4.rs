//! SigV4 for DynamoDB's JSON protocol, and nothing else: `POST /` with a
//! fixed set of headers. A general signer (the `aws-sigv4` crate) parses
//! and canonicalises arbitrary requests and derives the signing key on
//! every call; that was an eighth of a session request's CPU. Here the
//! canonical request is written directly and the signing key is derived
//! once per day, region and secret. The unit tests check every signature
//! against `aws-sigv4`'s for the same request.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const SERVICE: &str = "dynamodb";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

type HmacSha256 = Hmac<Sha256>;

/// What a request needs from the credentials.
pub struct Keys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// The headers a signed request carries besides host, content-type and the
/// target (which it also signs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

/// The derived key of one day, region and secret.
struct DerivedKey {
    date: String,
    secret_fingerprint: [u8; 32],
    key: [u8; 32],
}

/// Signs requests for one region; keeps the last derived key.
pub struct Signer {
    region: String,
    derived: Option<DerivedKey>,
}

impl Signer {
    pub fn new(region: &str) -> Self {
        Signer {
            region: region.to_string(),
            derived: None,
        }
    }

    /// The signature headers for `POST /` to `host` with `target` and `body`.
    pub fn sign(
        &mut self,
        keys: &Keys<'_>,
        host: &str,
        target: &str,
        body: &[u8],
        at: SystemTime,
    ) -> Signed {
        let (date, amz_date) = timestamps(at);
        let signed_headers = if keys.session_token.is_some() {
            "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        } else {
            "content-type;host;x-amz-date;x-amz-target"
        };
        let mut canonical = String::with_capacity(320 + host.len());
        canonical.push_str("POST\n/\n\ncontent-type:");
        canonical.push_str(CONTENT_TYPE);
        canonical.push_str("\nhost:");
        canonical.push_str(host.trim());
        canonical.push_str("\nx-amz-date:");
        canonical.push_str(&amz_date);
        if let Some(token) = keys.session_token {
            canonical.push_str("\nx-amz-security-token:");
            canonical.push_str(token.trim());
        }
        canonical.push_str("\nx-amz-target:");
        canonical.push_str(target);
        canonical.push_str("\n\n");
        canonical.push_str(signed_headers);
        canonical.push('\n');
        canonical.push_str(&hex::encode(Sha256::digest(body)));

        let scope = format!("{date}/{}/{SERVICE}/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let key = self.signing_key(keys.secret_access_key, &date);
        let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
        Signed {
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                keys.access_key_id
            ),
            amz_date,
        }
    }

    fn signing_key(&mut self, secret: &str, date: &str) -> [u8; 32] {
        let fingerprint: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if let Some(d) = &self.derived {
            if d.date == date && d.secret_fingerprint == fingerprint {
                return d.key;
            }
        }
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, SERVICE.as_bytes());
        let key = hmac(&k_service, b"aws4_request");
        self.derived = Some(DerivedKey {
            date: date.to_string(),
            secret_fingerprint: fingerprint,
            key,
        });
        key
    }
}

/// HMAC-SHA256. A key is hashed when longer than a block and zero-padded to
/// one otherwise (RFC 2104), so the infallible full-block constructor fits.
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `("YYYYMMDD", "YYYYMMDDTHHMMSSZ")` in UTC.
fn timestamps(at: SystemTime) -> (String, String) {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}{m:02}{d:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    );
    (date, stamp)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use std::time::Duration;

    /// The reference: the general signer on the same request.
    fn reference(
        credentials: &Credentials,
        region: &str,
        host: &str,
        target: &str,
        body: &[u8],
        at: SystemTime,
    ) -> (String, String) {
        let identity: Identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("dynamodb")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let headers = [
            ("host", host),
            ("content-type", CONTENT_TYPE),
            ("x-amz-target", target),
        ];
        let signable = SignableRequest::new(
            "POST",
            format!("http://{host}/"),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let mut request = http::Request::builder()
            .uri(format!("http://{host}/"))
            .body(())
            .expect("request");
        instructions.apply_to_request_http1x(&mut request);
        let header = |name: &str| request.headers()[name].to_str().expect("ascii").to_string();
        (header("authorization"), header("x-amz-date"))
    }

    fn check(credentials: Credentials, region: &str, host: &str, at: SystemTime) {
        let mut signer = Signer::new(region);
        for (target, body) in [
            (
                "DynamoDB_20120810.GetItem",
                &br#"{"TableName":"s","Key":{"id":{"S":"x"}}}"#[..],
            ),
            ("DynamoDB_20120810.UpdateItem", &b"{}"[..]),
            (
                "DynamoDB_20120810.DeleteItem",
                "{\"k\":\"\u{e9}\"}".as_bytes(),
            ),
        ] {
            let keys = Keys {
                access_key_id: credentials.access_key_id(),
                secret_access_key: credentials.secret_access_key(),
                session_token: credentials.session_token(),
            };
            let ours = signer.sign(&keys, host, target, body, at);
            let (authorization, amz_date) = reference(&credentials, region, host, target, body, at);
            assert_eq!(ours.authorization, authorization, "{target}");
            assert_eq!(ours.amz_date, amz_date, "{target}");
        }
    }

    #[test]
    fn matches_the_general_signer() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_303_103);
        check(
            Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "t",
            ),
            "us-east-1",
            "dynamodb.us-east-1.amazonaws.com",
            at,
        );
        check(
            Credentials::new(
                "ASIA1",
                "secret",
                Some("token/with+chars==".into()),
                None,
                "t",
            ),
            "eu-west-3",
            "127.0.0.1:8000",
            at,
        );
        // "AWS4" + a secret longer than a block: the key is hashed first.
        check(
            Credentials::new("A", "s".repeat(90), None, None, "t"),
            "ap-southeast-2",
            "localhost",
            at,
        );
    }

    #[test]
    fn signing_key_follows_the_day_and_the_secret() {
        let day = UNIX_EPOCH + Duration::from_secs(1_795_305_599); // 2026-11-21 23:59:59
        let next = day + Duration::from_secs(1);
        let mut signer = Signer::new("us-east-1");
        let a = Keys {
            access_key_id: "A",
            secret_access_key: "one",
            session_token: None,
        };
        let b = Keys {
            access_key_id: "A",
            secret_access_key: "two",
            session_token: None,
        };
        let first = signer.sign(&a, "h", "T", b"{}", day);
        assert_ne!(
            signer.sign(&a, "h", "T", b"{}", next).authorization,
            first.authorization
        );
        assert_ne!(
            signer.sign(&b, "h", "T", b"{}", day).authorization,
            first.authorization
        );
        assert_eq!(signer.sign(&a, "h", "T", b"{}", day), first);
        check(
            Credentials::new("A", "one", None, None, "t"),
            "us-east-1",
            "h",
            next,
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
        assert_eq!(
            timestamps(UNIX_EPOCH + Duration::from_secs(1_795_305_599)).1,
            "20261121T235959Z"
        );
    }
}

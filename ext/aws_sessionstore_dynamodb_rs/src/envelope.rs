//! Session data encrypted on the client (`encrypt_data`), in plain Rust.
//!
//! Every primitive is aws-lc-rs's (already in the tree through rustls):
//! keys come from HKDF-SHA256 of each secret under this use's own label;
//! the cipher is AES-256-GCM with a random 96-bit nonce drawn by
//! `RandomizedNonceKey` on every seal. Nothing here is hand-made crypto:
//! this file only lays the bytes out.
//!
//! The stored `data` (a String attribute, as every session's) is
//!
//! ```text
//! aws-sessionstore-dynamodb-rs:aes-256-gcm:v1:<key id>:<Base64(nonce ‖ ciphertext ‖ tag)>
//! ```
//!
//! The key id (8 hex digits) is HKDF output under a label of its own: it
//! names a key without revealing anything of it, so a reader picks the key
//! without trying all. The associated data is the header (prefix and key
//! id) followed by the table name, the key attribute's name and the
//! storage key, each length-prefixed: data copied to another item, or to
//! another table, does not decrypt.

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA256};
use aws_smithy_types::base64;

/// What every encrypted `data` starts with (the version is in it).
pub const PREFIX: &str = "aws-sessionstore-dynamodb-rs:aes-256-gcm:v1:";

/// HKDF's salt and the labels (HKDF `info`) of the two values derived
/// from each secret: the key, and its id.
const SALT: &[u8] = b"aws-sessionstore-dynamodb-rs";
const KEY_LABEL: &[u8] = b"aws-sessionstore-dynamodb-rs data encryption key v1";
const KEY_ID_LABEL: &[u8] = b"aws-sessionstore-dynamodb-rs data encryption key id v1";

/// Bytes of a key id (shown as twice as many hex digits).
const KEY_ID_LEN: usize = 4;
/// AES-GCM's tag.
const TAG_LEN: usize = 16;
/// The shortest secret accepted, as for `secret_key`.
pub const MIN_SECRET_LEN: usize = 32;

/// Why data did not decrypt; no variant holds key material or data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Not in this format (a wrong prefix, bad Base64, too short).
    Malformed,
    /// Encrypted under a key this store was not given.
    UnknownKey(String),
    /// The tag did not verify: tampered, truncated, or copied from another
    /// item or table.
    Rejected(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Malformed => write!(f, "Stored session data is not valid encrypted data"),
            OpenError::UnknownKey(id) => write!(
                f,
                "Stored session data is encrypted under key id {id}, which is not among encryption_keys"
            ),
            OpenError::Rejected(id) => write!(
                f,
                "Stored session data does not decrypt under key id {id}: tampered, truncated, or copied from another item"
            ),
        }
    }
}

/// One secret's key and its id.
struct DataKey {
    id: String,
    key: RandomizedNonceKey,
}

/// The keys of one store: the first seals, every one opens.
pub struct Keyring {
    keys: Vec<DataKey>,
}

/// A length for HKDF's output, as aws-lc-rs asks for it.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Keyring {
    /// The keys of `secrets`, current first. Refuses none, a short one, and
    /// two that share a key id (the same secret twice).
    pub fn new(secrets: &[Vec<u8>]) -> Result<Keyring, String> {
        if secrets.is_empty() {
            return Err("encryption_keys must hold at least one key".into());
        }
        let mut keys: Vec<DataKey> = Vec::with_capacity(secrets.len());
        for (index, secret) in secrets.iter().enumerate() {
            if secret.len() < MIN_SECRET_LEN {
                return Err(format!(
                    "encryption_keys[{index}] must be at least {MIN_SECRET_LEN} bytes (got {})",
                    secret.len()
                ));
            }
            let key = derive(secret)?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(format!(
                    "encryption_keys[{index}] repeats an earlier key (key id {})",
                    key.id
                ));
            }
            keys.push(key);
        }
        Ok(Keyring { keys })
    }

    /// The key ids, current first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// `plaintext` sealed under the current key for the item at
    /// (`table`, `key_name`, `key`).
    pub fn seal(
        &self,
        plaintext: &[u8],
        table: &str,
        key_name: &str,
        key: &str,
    ) -> Result<String, String> {
        let current = &self.keys[0];
        let header = format!("{PREFIX}{}:", current.id);
        let mut sealed = plaintext.to_vec();
        sealed.reserve(TAG_LEN);
        let nonce = current
            .key
            .seal_in_place_append_tag(
                Aad::from(associated(&header, table, key_name, key)),
                &mut sealed,
            )
            .map_err(|_| "AES-256-GCM refused to seal".to_string())?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        Ok(header + &base64::encode(out))
    }

    /// Whether `data` is in this format (whatever its key).
    pub fn is_sealed(data: &[u8]) -> bool {
        data.starts_with(PREFIX.as_bytes())
    }

    /// The key id `data` was sealed under, when it is in this format.
    pub fn key_id(data: &[u8]) -> Option<&str> {
        let rest = data.strip_prefix(PREFIX.as_bytes())?;
        let id = rest.get(..KEY_ID_LEN * 2)?;
        let hex = id
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        (hex && rest.get(KEY_ID_LEN * 2) == Some(&b':')).then_some(())?;
        std::str::from_utf8(id).ok()
    }

    /// The plaintext of `data` sealed for the item at (`table`,
    /// `key_name`, `key`), and whether its key is the current one.
    pub fn open(
        &self,
        data: &[u8],
        table: &str,
        key_name: &str,
        key: &str,
    ) -> Result<(Vec<u8>, bool), OpenError> {
        let id = Self::key_id(data).ok_or(OpenError::Malformed)?;
        let header_len = PREFIX.len() + id.len() + 1;
        let position = self
            .keys
            .iter()
            .position(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let body = std::str::from_utf8(&data[header_len..]).map_err(|_| OpenError::Malformed)?;
        let mut raw = base64::decode(body).map_err(|_| OpenError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let nonce = Nonce::try_assume_unique_for_key(&raw[..NONCE_LEN])
            .map_err(|_| OpenError::Malformed)?;
        let header = std::str::from_utf8(&data[..header_len]).map_err(|_| OpenError::Malformed)?;
        let plaintext_len = self.keys[position]
            .key
            .open_in_place(
                nonce,
                Aad::from(associated(header, table, key_name, key)),
                &mut raw[NONCE_LEN..],
            )
            .map_err(|_| OpenError::Rejected(id.to_string()))?
            .len();
        raw.copy_within(NONCE_LEN..NONCE_LEN + plaintext_len, 0);
        raw.truncate(plaintext_len);
        Ok((raw, position == 0))
    }
}

/// One secret's key and id, by HKDF-SHA256 under their labels.
fn derive(secret: &[u8]) -> Result<DataKey, String> {
    let prk = Salt::new(HKDF_SHA256, SALT).extract(secret);
    let mut key = [0u8; 32];
    let mut id = [0u8; KEY_ID_LEN];
    prk.expand(&[KEY_LABEL], Len(key.len()))
        .and_then(|okm| okm.fill(&mut key))
        .and_then(|()| prk.expand(&[KEY_ID_LABEL], Len(id.len())))
        .and_then(|okm| okm.fill(&mut id))
        .map_err(|_| "HKDF refused to derive the encryption key".to_string())?;
    let key = RandomizedNonceKey::new(&AES_256_GCM, &key)
        .map_err(|_| "AES-256-GCM refused the derived key".to_string())?;
    Ok(DataKey {
        id: hex::encode(id),
        key,
    })
}

/// The associated data: the header, then the table, the key attribute's
/// name and the storage key, each behind its length (so no two different
/// triples give the same bytes).
fn associated(header: &str, table: &str, key_name: &str, key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + table.len() + key_name.len() + key.len() + 24);
    aad.extend_from_slice(header.as_bytes());
    for part in [table, key_name, key] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::{LessSafeKey, UnboundKey};
    use aws_lc_rs::hmac;

    fn secret(byte: u8) -> Vec<u8> {
        vec![byte; 32]
    }

    fn ring(bytes: &[u8]) -> Keyring {
        Keyring::new(&bytes.iter().map(|b| secret(*b)).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn round_trip_and_fresh_nonces() {
        let keys = ring(&[1]);
        let one = keys.seal(b"{\"n\":1}", "t", "session_id", "k").unwrap();
        let two = keys.seal(b"{\"n\":1}", "t", "session_id", "k").unwrap();
        assert_ne!(one, two);
        assert!(one.starts_with(PREFIX));
        assert_eq!(
            keys.open(one.as_bytes(), "t", "session_id", "k").unwrap(),
            (b"{\"n\":1}".to_vec(), true)
        );
    }

    #[test]
    fn bound_to_table_key_name_and_key() {
        let keys = ring(&[1]);
        let sealed = keys.seal(b"x", "t", "session_id", "k").unwrap();
        for (table, name, key) in [
            ("u", "session_id", "k"),
            ("t", "id", "k"),
            ("t", "session_id", "k2"),
        ] {
            assert!(matches!(
                keys.open(sealed.as_bytes(), table, name, key),
                Err(OpenError::Rejected(_))
            ));
        }
    }

    #[test]
    fn tamper_truncation_unknown_and_previous_keys() {
        let old = ring(&[1]);
        let sealed = old.seal(b"hello", "t", "n", "k").unwrap();
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(old.open(&tampered, "t", "n", "k").is_err());
        // Cut short: the tag no longer verifies, or too little is left.
        assert!(matches!(
            old.open(&sealed.as_bytes()[..sealed.len() - 4], "t", "n", "k"),
            Err(OpenError::Rejected(_))
        ));
        assert_eq!(
            old.open(&sealed.as_bytes()[..PREFIX.len() + 12], "t", "n", "k")
                .unwrap_err(),
            OpenError::Malformed
        );
        assert_eq!(
            old.open(b"{}", "t", "n", "k").unwrap_err(),
            OpenError::Malformed
        );
        let other = ring(&[2]);
        assert!(matches!(
            other.open(sealed.as_bytes(), "t", "n", "k"),
            Err(OpenError::UnknownKey(_))
        ));
        let rotated = ring(&[2, 1]);
        assert_eq!(
            rotated.open(sealed.as_bytes(), "t", "n", "k").unwrap(),
            (b"hello".to_vec(), false)
        );
    }

    #[test]
    fn refuses_short_repeated_and_no_keys() {
        assert!(Keyring::new(&[]).is_err());
        assert!(Keyring::new(&[vec![1; 31]]).is_err());
        assert!(Keyring::new(&[secret(1), secret(1)]).is_err());
    }

    /// The layout checked against the library's own primitives, used
    /// directly: HKDF as HMAC (RFC 5869) and AES-256-GCM with the nonce read
    /// from the envelope.
    #[test]
    fn matches_hkdf_and_aes_gcm_computed_independently() {
        let keys = ring(&[7]);
        let sealed = keys.seal(b"plain", "tbl", "session_id", "key").unwrap();
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SALT), &secret(7));
        let expand = |info: &[u8]| {
            let mut block = info.to_vec();
            block.push(1);
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()), &block)
        };
        let id = hex::encode(&expand(KEY_ID_LABEL).as_ref()[..KEY_ID_LEN]);
        assert_eq!(keys.ids(), vec![id.clone()]);
        let header = format!("{PREFIX}{id}:");
        let raw = base64::decode(&sealed[header.len()..]).unwrap();
        let key =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, expand(KEY_LABEL).as_ref()).unwrap());
        let mut body = raw[NONCE_LEN..].to_vec();
        let nonce = Nonce::try_assume_unique_for_key(&raw[..NONCE_LEN]).unwrap();
        let plain = key
            .open_in_place(
                nonce,
                Aad::from(associated(&header, "tbl", "session_id", "key")),
                &mut body,
            )
            .unwrap();
        assert_eq!(plain, b"plain");
    }
}

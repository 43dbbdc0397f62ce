//! `Native.sid_digest(secret, id)`: the HMAC-MD5 (hex) that signs a session
//! id in the cookie, `"<digest>--<id>"`, as the official gem computes it
//! with `OpenSSL::HMAC.hexdigest("MD5", secret, id)`. Computed here so that
//! loading the store does not load OpenSSL, and so a request does not pay
//! OpenSSL 3's per-call digest lookup.

use hmac::{Hmac, KeyInit, Mac};
use magnus::{function, Error, RModule, RString, Ruby};
use md5::{Digest, Md5};

type HmacMd5 = Hmac<Md5>;

pub fn init(_ruby: &Ruby, native: RModule) -> Result<(), Error> {
    native.define_module_function("sid_digest", function!(sid_digest, 2))
}

fn sid_digest(secret: RString, id: RString) -> String {
    // SAFETY: the slices are read before any other Ruby call, with the GVL
    // held, so neither string can change or move meanwhile.
    let (secret, id) = unsafe { (secret.as_slice(), id.as_slice()) };
    hex::encode(hmac_md5(secret, id))
}

/// HMAC-MD5: a key longer than a block is hashed, a shorter one padded
/// with zeros (RFC 2104), so the full-block constructor cannot fail.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..16].copy_from_slice(&Md5::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <HmacMd5 as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::hmac_md5;

    #[test]
    fn rfc_2202_vectors() {
        // RFC 2202, test cases 1, 2 and 6 (an 80-byte key).
        assert_eq!(
            hex::encode(hmac_md5(&[0x0b; 16], b"Hi There")),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex::encode(hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex::encode(hmac_md5(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
    }
}

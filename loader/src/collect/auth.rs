//! Marvel API keys and the per-request signature.
//!
//! Server-side applications sign every request with `ts`, `apikey` and
//! `hash = md5(ts + private key + public key)` (hex, lower case). The private key lives in a
//! [`SecretString`], so it never shows up in `Debug` output or logs, and is only exposed to
//! compute the hash.

use secrecy::{ExposeSecret, SecretString};

use super::error::CollectError;

/// The environment variable holding the public key.
pub const PUBLIC_KEY_ENV: &str = "MARVEL_API_PUBLIC_KEY";
/// The environment variable holding the private key.
pub const PRIVATE_KEY_ENV: &str = "MARVEL_API_PRIVATE_KEY";

/// A pair of Marvel API keys.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Sent in clear as `apikey`.
    public: String,
    /// Only ever used inside the hash; `Debug` prints `[REDACTED]`.
    private: SecretString,
}

/// The three query parameters that authenticate one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `ts`: any string that changes between requests.
    pub ts: String,
    /// `apikey`: the public key.
    pub apikey: String,
    /// `hash`: md5 of ts + private key + public key, lower-case hex.
    pub hash: String,
}

impl Credentials {
    /// Keys from flags or the environment (the caller has already merged the two).
    ///
    /// # Errors
    /// [`CollectError::MissingKeys`] when either key is absent or blank, with a message that says
    /// how to get keys and which variables to set.
    pub fn new(
        public: Option<String>,
        private: Option<SecretString>,
    ) -> Result<Self, CollectError> {
        let public = public
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        let private = private.filter(|p| !p.expose_secret().trim().is_empty());
        match (public, private) {
            (Some(public), Some(private)) => Ok(Credentials { public, private }),
            (public, private) => {
                let mut missing = Vec::new();
                if public.is_none() {
                    missing.push(PUBLIC_KEY_ENV);
                }
                if private.is_none() {
                    missing.push(PRIVATE_KEY_ENV);
                }
                Err(CollectError::MissingKeys {
                    missing: missing.join(" and "),
                })
            }
        }
    }

    /// The public key (not a secret: it travels in every URL).
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The signature for a request made with timestamp `ts`.
    pub fn sign(&self, ts: &str) -> Signature {
        let mut ctx = md5::Context::new();
        ctx.consume(ts.as_bytes());
        ctx.consume(self.private.expose_secret().trim().as_bytes());
        ctx.consume(self.public.as_bytes());
        Signature {
            ts: ts.to_owned(),
            apikey: self.public.clone(),
            hash: format!("{:x}", ctx.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(public: &str, private: &str) -> Credentials {
        Credentials::new(
            Some(public.into()),
            Some(SecretString::from(private.to_owned())),
        )
        .unwrap()
    }

    #[test]
    fn hash_is_md5_of_ts_private_public() {
        // md5("1abcd1234") = ffd275c5130566a2916217b101f26150 is the example in Marvel's docs.
        let sig = creds("1234", "abcd").sign("1");
        assert_eq!(sig.hash, "ffd275c5130566a2916217b101f26150");
        assert_eq!(sig.apikey, "1234");
        assert_eq!(sig.ts, "1");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let text = format!("{:?}", creds("pub-key", "very-secret-private"));
        assert!(!text.contains("very-secret-private"), "{text}");
        assert!(text.contains("pub-key"));
    }

    #[test]
    fn missing_or_blank_keys_name_the_variables() {
        let err = Credentials::new(None, Some(SecretString::from("x".to_owned()))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(PUBLIC_KEY_ENV) && text.contains("developer.marvel.com"),
            "{text}"
        );
        assert!(!text.contains("MARVEL_API_PRIVATE_KEY and"), "{text}");
        let err = Credentials::new(Some("p".into()), Some(SecretString::from("  ".to_owned())));
        assert!(err.unwrap_err().to_string().contains(PRIVATE_KEY_ENV));
    }
}

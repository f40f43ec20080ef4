//! The fingerprint of a dataset: a digest of its records and image ETags, so that equal
//! fingerprints mean equal content wherever the folder is.

use sha2::{Digest, Sha256};

use super::entry::Entry;

/// Version tag hashed into every fingerprint, so a change of what is hashed changes them all.
const FINGERPRINT_TAG: &[u8] = b"superpower-dataset-v1\n";

/// The SHA-256 digest (hex) of `entries` in the order given; [`Dataset::load`](super::Dataset::load)
/// sorts them by id first.
pub(super) fn fingerprint(entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_TAG);
    for e in entries {
        let json = serde_json::to_vec(&e.record).expect("a CharacterRecord always serializes");
        h.update((json.len() as u64).to_be_bytes());
        h.update(&json);
        match &e.image {
            Some(img) => {
                h.update(b"I");
                h.update(img.content_type.as_bytes());
                h.update(b" ");
                h.update(img.etag.as_bytes());
            }
            None => h.update(b"-"),
        }
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

//! `common::store::decode` of every record type on any bytes (what a corrupt or foreign store
//! holds), and `encode` of records built from the same bytes. Invariants: decoding never
//! panics or aborts; a decoded value encodes back to at most the bytes it came from (bincode
//! also reads non-minimal varints, `fb 00 00` for 0, so a value can have longer spellings; the
//! store never compares encoded bytes) and decodes again to itself; any record round-trips.
#![no_main]

use std::fmt::Debug;

use arbitrary::{Arbitrary, Unstructured};
use common::model::{CharacterRecord, ImageRecord};
use common::store::{decode, encode, DatasetInfo};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

fuzz_target!(|data: &[u8]| {
    decoded::<CharacterRecord>(data);
    decoded::<ImageRecord>(data);
    decoded::<DatasetInfo>(data);

    let mut u = Unstructured::new(data);
    if let Ok(record) = character(&mut u) {
        round_trip(&record);
    }
    if let Ok(image) = image(&mut u) {
        round_trip(&image);
    }
});

fn decoded<T: Serialize + DeserializeOwned + PartialEq + Debug>(raw: &[u8]) {
    if let Ok(value) = decode::<T>(raw, "fuzzed value") {
        let again = encode(&value).unwrap();
        assert!(
            again.len() <= raw.len(),
            "{value:?} grew when encoded again"
        );
        assert_eq!(decode::<T>(&again, "re-encoded value").unwrap(), value);
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let raw = encode(value).unwrap();
    assert_eq!(&decode::<T>(&raw, "encoded value").unwrap(), value);
}

fn character(u: &mut Unstructured<'_>) -> arbitrary::Result<CharacterRecord> {
    Ok(CharacterRecord {
        id: u.arbitrary()?,
        name: u.arbitrary()?,
        description: u.arbitrary()?,
        slug: u.arbitrary()?,
        learn_more_url: u.arbitrary()?,
        eligible: u.arbitrary()?,
        modified: u.arbitrary()?,
    })
}

fn image(u: &mut Unstructured<'_>) -> arbitrary::Result<ImageRecord> {
    Ok(ImageRecord {
        content_type: u.arbitrary()?,
        etag: u.arbitrary()?,
        bytes: Vec::<u8>::arbitrary(u)?,
    })
}

//! Stable fingerprints of configurations: FNV-1a (64 bit) over a canonical text.
//!
//! The standard library's hashers are explicitly unstable across releases; a saved state
//! must keep its meaning, so the hash is spelled out here.

/// FNV-1a, 64 bit, of `bytes`, as 16 lowercase hex digits.
pub(crate) fn fnv1a_hex(bytes: &[u8]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

/// The fingerprint of a value's JSON serialisation (`None` if it does not serialise).
#[cfg(feature = "serde")]
pub(crate) fn of_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Option<String> {
    serde_json::to_vec(value).ok().map(|b| fnv1a_hex(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Reference values of FNV-1a 64.
        assert_eq!(fnv1a_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv1a_hex(b"a"), "af63dc4c8601ec8c");
        assert_eq!(fnv1a_hex(b"foobar"), "85944171f73967e8");
    }
}

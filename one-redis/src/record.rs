//! How a record is stored: one Redis string per key, and the Lua scripts of the lease tier.
//!
//! The layout is part of the key-format version in the default prefix (`one:v1:`): a store
//! that wrote these values and one that reads them must agree on it. See the crate docs
//! ("Records on the server") for the table.

use std::sync::LazyLock;

use one_core::{FencingToken, Key};

/// The first byte of a completed record (also the whole value that `add` writes).
pub(crate) const COMPLETED: u8 = b'c';
/// The first byte of an in-progress claim.
pub(crate) const IN_PROGRESS: u8 = b'p';

/// The value `add` writes: a completed record without fingerprint or result.
pub(crate) const ADDED: &[u8] = &[COMPLETED];

/// The in-progress value of a claim: `p`, the token (8 bytes, big-endian), and the fingerprint
/// (16 bytes) if there is one.
pub(crate) fn in_progress(token: FencingToken, fingerprint: Option<&Key>) -> Vec<u8> {
    let mut value = Vec::with_capacity(25);
    value.push(IN_PROGRESS);
    value.extend_from_slice(&token.get().to_be_bytes());
    if let Some(fingerprint) = fingerprint {
        value.extend_from_slice(fingerprint.as_bytes());
    }
    value
}

/// The token argument the scripts compare with the stored one.
pub(crate) fn token_arg(token: FencingToken) -> [u8; 8] {
    token.get().to_be_bytes()
}

/// A Lua script, known to the server by its SHA-1 once it has run there.
pub(crate) struct Script {
    pub(crate) source: &'static str,
    pub(crate) sha1: String,
}

impl Script {
    fn new(source: &'static str) -> Self {
        Script {
            source,
            sha1: redis::Script::new(source).get_hash().to_owned(),
        }
    }
}

/// The lease tier's scripts. Each reads and writes only `KEYS[1]`, so each is atomic on one key
/// (and cluster-safe). Every write sets an expiry (`PX`), and expiry is always relative to the
/// server's clock.
pub(crate) struct Scripts {
    pub(crate) claim: Script,
    pub(crate) complete: Script,
    pub(crate) release: Script,
    pub(crate) extend: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    claim: Script::new(CLAIM),
    complete: Script::new(COMPLETE),
    release: Script::new(RELEASE),
    extend: Script::new(EXTEND),
});

/// Answers of the claim script: `0` acquired; `{1, pttl}` in progress; `2` or `{2, result}`
/// completed; `3` fingerprint mismatch.
pub(crate) const CLAIM_ACQUIRED: i64 = 0;
pub(crate) const CLAIM_IN_PROGRESS: i64 = 1;
pub(crate) const CLAIM_COMPLETED: i64 = 2;
pub(crate) const CLAIM_MISMATCH: i64 = 3;

/// `KEYS[1]` the record; `ARGV[1]` the lease in ms; `ARGV[2]` the in-progress value to write;
/// `ARGV[3]` the fingerprint, or empty.
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return 0
end
local fp = ARGV[3]
local kind = string.sub(v, 1, 1)
if kind == 'p' and (#v == 9 or #v == 25) then
  if fp ~= '' and #v == 25 and string.sub(v, 10, 25) ~= fp then
    return 3
  end
  return {1, redis.call('PTTL', KEYS[1])}
end
local flags = 0
if #v > 1 then
  flags = string.byte(v, 2)
end
if kind == 'c' and (#v == 1 or (flags == 1 and #v == 18) or flags == 2 or (flags == 3 and #v >= 18)) then
  local at = 3
  if flags % 2 == 1 then
    if fp ~= '' and string.sub(v, 3, 18) ~= fp then
      return 3
    end
    at = 19
  end
  if flags >= 2 then
    return {2, string.sub(v, at)}
  end
  return 2
end
return redis.error_reply('ERR one-redis: the value under this key is not a record of one-redis')
";

/// `KEYS[1]` the record; `ARGV[1]` the token; `ARGV[2]` the TTL in ms; `ARGV[3]` the result;
/// `ARGV[4]` `1` if there is a result (it may be empty). Returns 1, or 0 when the lease is lost.
const COMPLETE: &str = r"
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 9) ~= 'p' .. ARGV[1] then
  return 0
end
local flags = 0
local fp = ''
if #v == 25 then
  flags = 1
  fp = string.sub(v, 10, 25)
end
local result = ''
if ARGV[4] == '1' then
  flags = flags + 2
  result = ARGV[3]
end
local record = 'c'
if flags ~= 0 then
  record = 'c' .. string.char(flags) .. fp .. result
end
redis.call('SET', KEYS[1], record, 'PX', ARGV[2])
return 1
";

/// `KEYS[1]` the record; `ARGV[1]` the token. Returns 1, or 0 when the lease is lost.
const RELEASE: &str = r"
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 9) ~= 'p' .. ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
";

/// `KEYS[1]` the record; `ARGV[1]` the token; `ARGV[2]` the new lease in ms. Returns 1, or 0
/// when the lease is lost.
const EXTEND: &str = r"
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 9) ~= 'p' .. ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_progress_values_are_self_describing() {
        let token = FencingToken::new(0x0102_0304_0506_0708);
        assert_eq!(
            in_progress(token, None),
            b"p\x01\x02\x03\x04\x05\x06\x07\x08"
        );
        let fingerprint = Key::from_bytes([0xaa; 16]);
        let value = in_progress(token, Some(&fingerprint));
        assert_eq!(value.len(), 25);
        assert_eq!(&value[9..], &[0xaa; 16]);
    }

    #[test]
    fn scripts_have_distinct_hashes() {
        let s = &*SCRIPTS;
        let hashes = [
            &s.claim.sha1,
            &s.complete.sha1,
            &s.release.sha1,
            &s.extend.sha1,
        ];
        for (i, a) in hashes.iter().enumerate() {
            assert_eq!(a.len(), 40);
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}

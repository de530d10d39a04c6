//! The suite against a small reference store that meets the contract, on a mock clock and in
//! real time, directly and as `Arc<dyn Store>`; and against deliberately broken variants of it,
//! each of which the checks for its clause must catch.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use one_core::store::{MAX_TTL, lease_millis, ttl_millis};
use one_core::{Claim, Error, FencingToken, Key, Lease, Store, async_trait};
use one_testkit::{Fixture, Profile};

/// A deliberate contract violation of the reference store, to prove the checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
    None,
    /// `add` checks, lets go of the lock, then inserts (case-08).
    RacyAdd,
    /// `claim` checks, lets go of the lock, then inserts.
    RacyClaim,
    /// A duplicate `add` re-arms the TTL (case-11 e).
    DuplicateRefreshesTtl,
    /// Reads re-arm the TTL: time-to-idle (case-09).
    ReadsRefresh,
    /// A record is still live at its deadline.
    LiveAtDeadline,
    /// Expired records are never purged and stay visible (ttlcache#147).
    ExpiredStillVisible,
    /// Durations are truncated to whole seconds (case-11 b, c).
    TruncateToSeconds,
    /// A zero TTL or lease means "forever" (case-11 a, case-14).
    ZeroIsForever,
    /// `complete`, `release` and `extend` accept any token while the key is claimed.
    StaleTokenAccepted,
    /// A claim lives for the record TTL rather than its lease (case-14).
    LeaseUsesRecordTtl,
    /// Every grant on a key gets token 1.
    ReusedTokens,
    /// `complete` writes a completed record whatever is there: no fencing at all.
    CompleteIgnoresHolder,
    /// `release` deletes whatever record is there.
    ReleaseIgnoresHolder,
    /// `extend` answers `Ok` and changes nothing.
    ExtendIgnored,
    /// `complete` counts its TTL from the claim, not from now.
    CompleteTtlFromClaim,
    /// An empty result is stored as no result.
    EmptyResultIsNone,
    /// Fingerprints are never compared.
    IgnoreFingerprint,
    /// A fingerprint on one side only counts as a mismatch.
    MissingFingerprintMismatches,
    /// `add_many` answers every key against the state before the batch.
    BatchAgainstSnapshot,
    /// `claim_many` answers every key against the state before the batch, then takes the
    /// absent ones without looking again.
    ClaimBatchAgainstSnapshot,
    /// The failing store answers `add` with `Ok(false)` (case-16).
    FailOpen,
}

/// The reference store's time: a mock clock or real elapsed time, as a `Duration` since start.
#[derive(Clone)]
enum Clock {
    Mock(Arc<AtomicU64>),
    Real(Instant),
}

impl Clock {
    fn now(&self) -> Duration {
        match self {
            Clock::Mock(nanos) => Duration::from_nanos(nanos.load(Ordering::SeqCst)),
            Clock::Real(start) => start.elapsed(),
        }
    }
}

struct Record {
    deadline: Duration,
    /// The TTL the record was written with (for [`Flaw::ReadsRefresh`]).
    ttl: Duration,
    /// When the claim was taken (for [`Flaw::CompleteTtlFromClaim`]).
    claimed_at: Duration,
    /// `Some(token)` while claimed, `None` once completed or when written by `add`.
    holder: Option<u64>,
    fingerprint: Option<Key>,
    result: Option<Vec<u8>>,
}

type Records = HashMap<Key, Record>;

/// A `Mutex<HashMap>` store meeting the contract (unless given a [`Flaw`]).
struct ReferenceStore {
    records: Mutex<Records>,
    tokens: AtomicU64,
    clock: Clock,
    default_ttl: Duration,
    flaw: Flaw,
    failing: bool,
}

impl ReferenceStore {
    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == flaw
    }

    fn up(&self) -> Result<(), Error> {
        if self.failing {
            return Err(Error::Unavailable {
                store: "reference",
                source: "unreachable".into(),
            });
        }
        Ok(())
    }

    fn duration(
        &self,
        d: Duration,
        millis: fn(Duration) -> Result<u64, Error>,
    ) -> Result<Duration, Error> {
        if self.has(Flaw::ZeroIsForever) && d.is_zero() {
            return Ok(MAX_TTL);
        }
        let ms = millis(d)?;
        if self.has(Flaw::TruncateToSeconds) {
            return Ok(Duration::from_secs(d.as_secs()));
        }
        Ok(Duration::from_millis(ms))
    }

    fn ttl(&self, ttl: Duration) -> Result<Duration, Error> {
        self.duration(ttl, ttl_millis)
    }

    fn lease(&self, lease: Duration) -> Result<Duration, Error> {
        self.duration(lease, lease_millis)
    }

    fn live(&self, record: &Record, now: Duration) -> bool {
        if self.has(Flaw::LiveAtDeadline) {
            now <= record.deadline
        } else {
            now < record.deadline
        }
    }

    /// Runs `f` on the records with `key`'s expired record (if any) removed.
    fn with<T>(&self, key: &Key, f: impl FnOnce(&mut Records, Duration) -> T) -> T {
        let mut records = self.records.lock().unwrap();
        let now = self.clock.now();
        if !self.has(Flaw::ExpiredStillVisible)
            && records.get(key).is_some_and(|r| !self.live(r, now))
        {
            records.remove(key);
        }
        f(&mut records, now)
    }

    fn read(&self, record: &mut Record, now: Duration) {
        if self.has(Flaw::ReadsRefresh) {
            record.deadline = now + record.ttl;
        }
    }

    fn insert(&self, records: &mut Records, key: &Key, ttl: Duration, now: Duration) {
        let record = Record {
            deadline: now + ttl,
            ttl,
            claimed_at: now,
            holder: None,
            fingerprint: None,
            result: None,
        };
        records.insert(*key, record);
    }

    fn token(&self) -> u64 {
        if self.has(Flaw::ReusedTokens) {
            return 1;
        }
        self.tokens.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn held<'a>(&self, records: &'a mut Records, lease: &Lease) -> Result<&'a mut Record, Error> {
        let lost = Error::LeaseLost { key: *lease.key() };
        match records.get_mut(lease.key()) {
            Some(r) if r.holder == Some(lease.token().get()) => Ok(r),
            Some(r) if self.has(Flaw::StaleTokenAccepted) && r.holder.is_some() => Ok(r),
            _ => Err(lost),
        }
    }

    fn mismatch(&self, stored: Option<&Key>, asked: Option<&Key>) -> bool {
        match (stored, asked) {
            _ if self.has(Flaw::IgnoreFingerprint) => false,
            (Some(s), Some(a)) => s != a,
            (None, None) => false,
            _ => self.has(Flaw::MissingFingerprintMismatches),
        }
    }

    /// `claim`'s answer on a live record.
    fn claim_existing(&self, r: &mut Record, fingerprint: Option<&Key>, now: Duration) -> Claim {
        if self.mismatch(r.fingerprint.as_ref(), fingerprint) {
            return Claim::Mismatch;
        }
        if r.holder.is_some() {
            return Claim::InProgress {
                retry_after: r.deadline.saturating_sub(now),
            };
        }
        self.read(r, now);
        Claim::Completed {
            result: r.result.clone(),
        }
    }

    fn acquire(
        &self,
        records: &mut Records,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
        now: Duration,
    ) -> Claim {
        let token = self.token();
        let deadline = if self.has(Flaw::LeaseUsesRecordTtl) {
            self.default_ttl
        } else {
            lease
        };
        let record = Record {
            deadline: now + deadline,
            ttl: deadline,
            claimed_at: now,
            holder: Some(token),
            fingerprint: fingerprint.copied(),
            result: None,
        };
        records.insert(*key, record);
        Claim::Acquired(Lease::new(*key, FencingToken::new(token), lease))
    }
}

#[async_trait]
impl Store for ReferenceStore {
    fn default_ttl(&self) -> Duration {
        self.default_ttl
    }

    async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
        if self.failing && self.has(Flaw::FailOpen) {
            return Ok(false);
        }
        self.up()?;
        let ttl = self.ttl(ttl)?;
        if self.has(Flaw::RacyAdd) {
            if self.with(key, |records, _| records.contains_key(key)) {
                return Ok(false);
            }
            tokio::task::yield_now().await;
            self.with(key, |records, now| self.insert(records, key, ttl, now));
            return Ok(true);
        }
        Ok(self.with(key, |records, now| match records.get_mut(key) {
            Some(r) => {
                if self.has(Flaw::DuplicateRefreshesTtl) {
                    r.deadline = now + ttl;
                }
                false
            }
            None => {
                self.insert(records, key, ttl, now);
                true
            }
        }))
    }

    async fn has_key(&self, key: &Key) -> Result<bool, Error> {
        self.up()?;
        Ok(self.with(key, |records, now| match records.get_mut(key) {
            Some(r) => {
                self.read(r, now);
                true
            }
            None => false,
        }))
    }

    async fn remove(&self, key: &Key) -> Result<bool, Error> {
        self.up()?;
        Ok(self.with(key, |records, _| records.remove(key).is_some()))
    }

    async fn add_many_with_ttl(&self, keys: &[Key], ttl: Duration) -> Vec<Result<bool, Error>> {
        if !self.has(Flaw::BatchAgainstSnapshot) {
            let mut answers = Vec::with_capacity(keys.len());
            for key in keys {
                answers.push(self.add_with_ttl(key, ttl).await);
            }
            return answers;
        }
        let Ok(ttl) = self.ttl(ttl) else {
            return keys
                .iter()
                .map(|_| {
                    Err(Error::InvalidTtl {
                        ttl,
                        reason: "invalid",
                    })
                })
                .collect();
        };
        let present: Vec<bool> = keys
            .iter()
            .map(|k| self.with(k, |records, _| records.contains_key(k)))
            .collect();
        for (key, present) in keys.iter().zip(&present) {
            if !present {
                self.with(key, |records, now| self.insert(records, key, ttl, now));
            }
        }
        present.iter().map(|p| Ok(!p)).collect()
    }

    async fn claim_many(&self, keys: &[Key], lease: Duration) -> Vec<Result<Claim, Error>> {
        if !self.has(Flaw::ClaimBatchAgainstSnapshot) {
            let mut answers = Vec::with_capacity(keys.len());
            for key in keys {
                answers.push(self.claim(key, lease, None).await);
            }
            return answers;
        }
        let Ok(lease) = self.lease(lease) else {
            return keys
                .iter()
                .map(|_| {
                    Err(Error::InvalidLease {
                        lease,
                        reason: "invalid",
                    })
                })
                .collect();
        };
        let present: Vec<Option<Claim>> = keys
            .iter()
            .map(|k| {
                self.with(k, |records, now| {
                    records
                        .get_mut(k)
                        .map(|r| self.claim_existing(r, None, now))
                })
            })
            .collect();
        tokio::task::yield_now().await;
        keys.iter()
            .zip(present)
            .map(|(key, present)| {
                Ok(present.unwrap_or_else(|| {
                    self.with(key, |records, now| {
                        self.acquire(records, key, lease, None, now)
                    })
                }))
            })
            .collect()
    }

    async fn claim(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error> {
        self.up()?;
        let lease = self.lease(lease)?;
        if self.has(Flaw::RacyClaim) {
            let existing = self.with(key, |records, now| {
                records
                    .get_mut(key)
                    .map(|r| self.claim_existing(r, fingerprint, now))
            });
            if let Some(answer) = existing {
                return Ok(answer);
            }
            tokio::task::yield_now().await;
            return Ok(self.with(key, |records, now| {
                self.acquire(records, key, lease, fingerprint, now)
            }));
        }
        Ok(self.with(key, |records, now| match records.get_mut(key) {
            Some(r) => self.claim_existing(r, fingerprint, now),
            None => self.acquire(records, key, lease, fingerprint, now),
        }))
    }

    async fn complete(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error> {
        self.up()?;
        let ttl = self.ttl(ttl)?;
        self.with(lease.key(), |records, now| {
            let from_claim = self.has(Flaw::CompleteTtlFromClaim);
            let empty_is_none = self.has(Flaw::EmptyResultIsNone);
            let r = if self.has(Flaw::CompleteIgnoresHolder) {
                records.entry(*lease.key()).or_insert(Record {
                    deadline: now,
                    ttl,
                    claimed_at: now,
                    holder: None,
                    fingerprint: None,
                    result: None,
                })
            } else {
                self.held(records, lease)?
            };
            r.deadline = if from_claim {
                r.claimed_at + ttl
            } else {
                now + ttl
            };
            r.ttl = ttl;
            r.holder = None;
            r.result = result
                .filter(|b| !(empty_is_none && b.is_empty()))
                .map(<[u8]>::to_vec);
            Ok(())
        })
    }

    async fn release(&self, lease: &Lease) -> Result<(), Error> {
        self.up()?;
        self.with(lease.key(), |records, _| {
            if !self.has(Flaw::ReleaseIgnoresHolder) {
                self.held(records, lease)?;
            }
            match records.remove(lease.key()) {
                Some(_) => Ok(()),
                None => Err(Error::LeaseLost { key: *lease.key() }),
            }
        })
    }

    async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        self.up()?;
        let duration = self.lease(duration)?;
        self.with(lease.key(), |records, now| {
            let ignored = self.has(Flaw::ExtendIgnored);
            let r = self.held(records, lease)?;
            if !ignored {
                r.deadline = now + duration;
            }
            Ok(())
        })
    }
}

/// Reference stores on one clock.
struct ReferenceFixture {
    clock: Clock,
    profile: Profile,
    flaw: Flaw,
}

impl ReferenceFixture {
    /// On a mock clock moved only by `advance`.
    fn mock_clock(flaw: Flaw) -> Self {
        let clock = Clock::Mock(Arc::new(AtomicU64::new(0)));
        ReferenceFixture {
            clock,
            profile: Profile::mock_clock(),
            flaw,
        }
    }

    /// In real time; `advance` sleeps. A shorter TTL than a server's profile: this store is
    /// in-process.
    fn real_time() -> Self {
        let profile = Profile::real_time()
            .with_ttl(Duration::from_millis(400))
            .with_margin(Duration::from_millis(100));
        ReferenceFixture {
            clock: Clock::Real(Instant::now()),
            profile,
            flaw: Flaw::None,
        }
    }

    fn make(&self, default_ttl: Duration, failing: bool) -> ReferenceStore {
        ReferenceStore {
            records: Mutex::default(),
            tokens: AtomicU64::new(0),
            clock: self.clock.clone(),
            default_ttl,
            flaw: self.flaw,
            failing,
        }
    }
}

#[async_trait]
impl Fixture for ReferenceFixture {
    type Store = ReferenceStore;

    async fn store(&self, default_ttl: Duration) -> ReferenceStore {
        self.make(default_ttl, false)
    }

    async fn advance(&self, by: Duration) {
        match &self.clock {
            Clock::Mock(nanos) => {
                let by = u64::try_from(by.as_nanos()).expect("advance by less than 584 years");
                nanos.fetch_add(by, Ordering::SeqCst);
            }
            Clock::Real(_) => tokio::time::sleep(by).await,
        }
    }

    fn profile(&self) -> Profile {
        self.profile.clone()
    }

    async fn failing_store(&self) -> Option<ReferenceStore> {
        Some(self.make(Duration::from_secs(60), true))
    }
}

one_testkit::conformance_tests!(mock_clock, ReferenceFixture::mock_clock(Flaw::None));
one_testkit::conformance_tests!(real_time, ReferenceFixture::real_time());

/// Each flaw makes the checks of its clause fail.
mod flaws {
    use std::future::Future;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use one_testkit::checks;

    use super::{Flaw, ReferenceFixture};

    /// Runs `check` and asserts that it panics.
    fn fails(flaw: Flaw, name: &str, check: impl Future<Output = ()>) {
        let outcome = catch_unwind(AssertUnwindSafe(|| one_testkit::run(check)));
        assert!(
            outcome.is_err(),
            "{name} passed against a store with flaw {flaw:?}"
        );
    }

    macro_rules! caught_by {
        ($($flaw:ident => [$($check:ident),+ $(,)?],)+) => {$(
            #[test]
            #[allow(non_snake_case)]
            fn $flaw() {
                $(
                    fails(Flaw::$flaw, stringify!($check), async {
                        checks::$check(&ReferenceFixture::mock_clock(Flaw::$flaw)).await;
                    });
                )+
            }
        )+};
    }

    caught_by! {
        RacyAdd => [add_race_has_one_winner, add_race_on_expired_key_has_one_winner],
        RacyClaim => [claim_race_has_one_winner, add_racing_claim_has_one_winner],
        DuplicateRefreshesTtl => [duplicate_add_does_not_refresh_ttl, expiry_timeline_case_09],
        ReadsRefresh => [reads_do_not_extend_life, expiry_timeline_case_09],
        LiveAtDeadline => [record_is_expired_at_its_deadline, expiry_timeline_case_09],
        ExpiredStillVisible => [
            add_uses_default_ttl,
            add_with_ttl_sets_the_record_ttl,
            remove_of_absent_or_expired_is_false,
            lease_past_its_deadline_is_lost,
        ],
        TruncateToSeconds => [ttl_is_not_truncated_to_seconds, sub_millisecond_durations_round_up],
        ZeroIsForever => [zero_ttl_is_rejected, zero_lease_is_rejected],
        StaleTokenAccepted => [
            stale_holder_is_refused,
            crashed_holder_expires_at_lease_deadline,
            release_gives_the_key_back,
        ],
        LeaseUsesRecordTtl => [
            crashed_holder_expires_at_lease_deadline,
            lease_past_its_deadline_is_lost,
            claim_acquires_then_reports_in_progress,
        ],
        ReusedTokens => [fencing_tokens_are_never_reused, stale_holder_is_refused],
        CompleteIgnoresHolder => [
            stale_holder_is_refused,
            crashed_holder_expires_at_lease_deadline,
            complete_twice_is_lease_lost,
        ],
        ReleaseIgnoresHolder => [release_after_complete_is_lease_lost, release_gives_the_key_back],
        ExtendIgnored => [extend_moves_the_lease_deadline, run_once_heartbeat_keeps_the_lease],
        CompleteTtlFromClaim => [completed_record_lives_for_its_ttl],
        EmptyResultIsNone => [complete_stores_the_result_for_replay],
        IgnoreFingerprint => [fingerprint_mismatch_is_reported, run_once_reports_mismatch],
        MissingFingerprintMismatches => [
            record_without_fingerprint_never_mismatches,
            record_written_by_add_reads_as_completed,
        ],
        BatchAgainstSnapshot => [add_many_repeated_key_is_new_once],
        ClaimBatchAgainstSnapshot => [
            claim_many_answers_each_key_in_order,
            claim_many_race_has_one_winner_per_key,
            run_once_runs_a_batch,
        ],
        FailOpen => [failing_store_fails_closed],
    }
}

/// The simulation (`one_testkit::sim`) on the reference store: exactly once when the store is
/// right, and the harm each broken variant does when it is not.
mod simulation {
    use std::time::Duration;

    use one_testkit::sim::{self, Config, Pattern, Report};

    use super::{Flaw, ReferenceFixture};

    fn small() -> Config {
        Config {
            messages: 2_000,
            pattern: Pattern::LeaseAtomicEffect,
            time_limit: Duration::from_secs(60),
            ..Config::default()
        }
    }

    fn simulate(fixture: ReferenceFixture, config: &Config) -> Report {
        let report = one_testkit::run(sim::run_on(&fixture, config));
        eprintln!("{report}");
        report
    }

    #[test]
    fn a_correct_store_applies_every_message_once() {
        let r = simulate(ReferenceFixture::mock_clock(Flaw::None), &small());
        assert!(r.finished && r.unacked == 0, "{r}");
        assert_eq!((r.never_applied, r.applied_more), (0, 0), "{r}");
        assert!(r.crashes_total() > 0 && r.lease_lost > 0, "{r}");
    }

    /// Real time, where `advance` sleeps and the store expires leases on its own clock.
    #[test]
    fn a_correct_store_on_real_time_applies_every_message_once() {
        let config = Config {
            messages: 300,
            redelivery_window: Duration::from_millis(300),
            ..small()
        };
        let r = simulate(ReferenceFixture::real_time(), &config);
        assert!(r.finished && r.unacked == 0, "{r}");
        assert_eq!((r.never_applied, r.applied_more), (0, 0), "{r}");
    }

    /// Without fencing, a worker whose lease ran out completes after the worker that took
    /// over: two commits of one message.
    #[test]
    fn a_store_without_fencing_lets_a_late_holder_apply_a_message_again() {
        let r = simulate(
            ReferenceFixture::mock_clock(Flaw::CompleteIgnoresHolder),
            &small(),
        );
        assert!(r.applied_more > 0, "{r}");
    }

    #[test]
    fn a_lease_living_for_the_record_ttl_strands_the_messages_of_crashed_workers() {
        let r = simulate(
            ReferenceFixture::mock_clock(Flaw::LeaseUsesRecordTtl),
            &small(),
        );
        assert!(!r.finished && r.never_applied > 0, "{r}");
    }
}

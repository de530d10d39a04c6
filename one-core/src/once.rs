//! [`RunOnce`]: run a consumer's work once per key, safely across crashes, retries and
//! redeliveries.
//!
//! The flow, for each message (or request) with key `k`:
//!
//! 1. **claim** `k` with a lease ([`RunOnce::claim`], [`RunOnce::claim_many`] for a batch). The
//!    answer is [`Claimed`]: acquired (run the work), a duplicate (with the stored result, for
//!    replay), in progress elsewhere, or a fingerprint mismatch. Optionally, wait a bounded time
//!    for an in-progress duplicate to finish ([`RunOnce::wait`]).
//! 2. **run** the work ([`Attempt::run`]), sending heartbeats ([`Store::extend`]) while it runs
//!    if configured ([`RunOnce::heartbeat`]).
//! 3. **complete** the claim with the work's result ([`Replay`] bytes), or **release** it when the
//!    work fails so that a redelivery can run it again. The answer is an [`Outcome`].
//!
//! [`RunOnce::run`] does all three; [`RunOnce::run_many`] does them for a batch, with one
//! `claim_many` for the whole batch. The steps are public ([`Attempt`]) for loops that need
//! them: to pass the [fencing token](crate::FencingToken) to a downstream system, say.
//!
//! # What "once" means here
//!
//! The store makes sure that at most one worker at a time holds a key, that only the current
//! holder can complete it, and that once completed the key is never run again for the record's
//! TTL; a worker that crashes loses its claim at the lease deadline, so a redelivery runs the
//! work (nothing is lost, unlike `add`-then-process). That makes the *completion* happen exactly
//! once. The work's *effect* happens exactly once only if it is committed together with the
//! completion (one transaction in the same database, or a downstream that deduplicates by the
//! key): between an effect in another system and the `complete` call, a crash or an expired
//! lease means the next holder runs the effect again ([`Outcome::LeaseLost`]). No store can close
//! that gap alone. See [the guide](crate::exactly_once) for choosing lease lengths and TTLs.
//!
//! # Timers come from the caller
//!
//! Heartbeats and waiting need a timer, and `one-core` has no async runtime (so that it works
//! under any, or none). [`RunOnce::heartbeat`] and [`RunOnce::wait`] therefore take the caller's
//! `sleep` function: `tokio::time::sleep`, `async_std::task::sleep`, or a closure around any
//! other timer, such as a simulation's virtual clock (`one-testkit`'s `sim` runs `RunOnce` that
//! way, deterministically).

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::{Claim, Error, Key, Lease, Store};

/// What a [`RunOnce`] result can be stored as, so that a duplicate can replay it.
///
/// Implemented for `()` (nothing is stored), byte vectors and strings. For your own response
/// type, return its serialized bytes (or a `(value, bytes)` pair is easy to build on top).
pub trait Replay {
    /// The bytes to store with the completed record, or `None` to store nothing.
    fn replay_bytes(&self) -> Option<Vec<u8>>;
}

impl Replay for () {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        None
    }
}

impl Replay for Vec<u8> {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        Some(self.clone())
    }
}

impl Replay for String {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        Some(self.as_bytes().to_vec())
    }
}

impl<T: Replay> Replay for Option<T> {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        self.as_ref().and_then(Replay::replay_bytes)
    }
}

/// What happened to one run of the work.
///
/// For a message from an at-least-once broker: acknowledge it on `Ran` and `Duplicate`, and on
/// `Mismatch` (it will never succeed; dead-letter it); negatively acknowledge it (redeliver
/// later) on `InProgress`; on `LeaseLost`, see there.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// This call ran the work and recorded it as completed.
    Ran(T),
    /// The work had been done already; here is what that run stored (`None` when it stored
    /// nothing). Acknowledge the message, or replay the stored response.
    Duplicate(Option<Vec<u8>>),
    /// Another worker is running it now (after waiting, if [`RunOnce::wait`] is set). Retry
    /// (nack the message) after `retry_after`.
    InProgress {
        /// Time left on the other worker's lease.
        retry_after: Duration,
    },
    /// The key was used before for a request with a different fingerprint. The work did not run.
    Mismatch,
    /// The work ran, but the lease ran out (or the record was removed) before it could be
    /// recorded as completed, so the key is free again, or held by another worker already:
    /// **the work may run again.**
    ///
    /// If the work's effect is committed together with the completion (one transaction), it
    /// was not committed: nack the message. Otherwise the effect happened and will likely
    /// happen again: compensate for it if it cannot be repeated safely. To make this rare,
    /// choose a lease longer than the work takes, or send [heartbeats](RunOnce::heartbeat).
    LeaseLost(T),
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError<E> {
    /// The work failed; its claim was released, so a redelivery can run it again. (Work that
    /// fails should leave no effect behind, or one that is safe to repeat.)
    #[error("the work failed (its claim was released for a retry)")]
    Work(#[source] E),
    /// The work ran, but recording it as completed failed (the store timed out or was
    /// unreachable), so whether a redelivery runs it again is unknown: if the completion did
    /// not reach the store, the claim ends at its lease deadline and the next delivery runs the
    /// work again. `result` is what would have been stored, for the response.
    #[error("the work ran, but it could not be recorded as completed; it may run again")]
    Unrecorded {
        /// The result's [`Replay`] bytes.
        result: Option<Vec<u8>>,
        /// The store's error.
        source: Error,
    },
    /// The store failed before the work ran: the work did not run.
    #[error(transparent)]
    Store(#[from] Error),
}

/// The caller's timer: `sleep(duration)` finishes after `duration`.
type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn sleeper<F, Fut>(sleep: F) -> Sleep
where
    F: Fn(Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |d| Box::pin(sleep(d)))
}

/// The shortest pause between two claims while waiting: the unit every backend expires in.
const MIN_PAUSE: Duration = Duration::from_millis(1);

/// Runs work once per key: claim with a lease, run the work, complete with its result, or
/// release on failure so that a redelivery can retry. See the [module docs](self) for the flow
/// and what "once" can mean.
///
/// Unlike the plain `add`-then-process pattern, a worker that crashes or fails half-way does not
/// lose the message: its claim ends at the lease deadline (or at once, on failure) and the next
/// delivery runs the work. Choose a lease longer than the work takes (or send heartbeats); the
/// `ttl` of the completed record should cover the broker's whole redelivery window.
///
/// A `RunOnce` is a small configuration, cheap to clone; build one per kind of work (or per
/// request, to set its fingerprint).
///
/// ```
/// use std::time::Duration;
/// use one_core::{Outcome, RunOnce, make_key};
/// use one_memory::MemoryStore;
///
/// # futures::executor::block_on(async {
/// let store = MemoryStore::new(Duration::from_secs(3600))?;
/// let once = RunOnce::new(Duration::from_secs(30), Duration::from_secs(24 * 3600));
/// let key = make_key(&("charge", "order-17"))?;
///
/// let first = once.run(&store, &key, || async { Ok::<_, std::io::Error>("charged 10 EUR".to_string()) }).await?;
/// assert_eq!(first, Outcome::Ran("charged 10 EUR".to_string()));
///
/// let again = once.run(&store, &key, || async { Ok::<_, std::io::Error>("charged twice!".to_string()) }).await?;
/// assert_eq!(again, Outcome::Duplicate(Some(b"charged 10 EUR".to_vec())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// With heartbeats and waiting, on tokio (any runtime's `sleep` will do):
///
/// ```
/// use std::time::Duration;
/// use one_core::{Outcome, RunOnce, make_key};
/// use one_memory::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let store = MemoryStore::new(Duration::from_secs(3600))?;
/// let once = RunOnce::new(Duration::from_secs(10), Duration::from_secs(24 * 3600))
///     // Extend the lease every 3 s while the work runs: the work may take longer than the
///     // lease, yet a crashed worker blocks the key for 10 s at most.
///     .heartbeat(Duration::from_secs(3), tokio::time::sleep)
///     // A duplicate waits up to 2 s for a run in progress (then gets its result) before
///     // answering InProgress.
///     .wait(Duration::from_secs(2), tokio::time::sleep);
/// let key = make_key(&"report-2024-03")?;
///
/// let outcome = once.run(&store, &key, || async {
///     tokio::time::sleep(Duration::from_millis(5)).await; // the long work
///     Ok::<_, std::io::Error>("report.pdf".to_string())
/// }).await?;
/// assert_eq!(outcome, Outcome::Ran("report.pdf".to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RunOnce {
    lease: Duration,
    ttl: Duration,
    fingerprint: Option<Key>,
    heartbeat: Option<(Duration, Sleep)>,
    wait: Option<(Duration, Sleep)>,
}

impl fmt::Debug for RunOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOnce")
            .field("lease", &self.lease)
            .field("ttl", &self.ttl)
            .field("fingerprint", &self.fingerprint)
            .field(
                "heartbeat",
                &self.heartbeat.as_ref().map(|(every, _)| every),
            )
            .field("wait", &self.wait.as_ref().map(|(timeout, _)| timeout))
            .finish()
    }
}

impl RunOnce {
    /// Claims with `lease`, and keeps a completed record for `ttl`.
    ///
    /// The lease bounds how long a crashed worker blocks the key; the TTL how long a completed
    /// key is remembered. Both are checked by the store (zero is refused, never "forever").
    pub fn new(lease: Duration, ttl: Duration) -> Self {
        RunOnce {
            lease,
            ttl,
            fingerprint: None,
            heartbeat: None,
            wait: None,
        }
    }

    /// Stores `fingerprint` (a key of the request payload) with the claim: a later run with the
    /// same key and another fingerprint is answered [`Outcome::Mismatch`].
    ///
    /// A fingerprint belongs to one request, so the batch forms refuse a `RunOnce` that has one.
    pub fn fingerprint(mut self, fingerprint: Key) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// While the work runs, extends the lease every `interval` (to the full lease again), using
    /// the caller's `sleep` (e.g. `tokio::time::sleep`) as the timer.
    ///
    /// Then the lease only has to outlast a stalled or crashed worker, not the longest work: a
    /// crashed worker's claim still ends one lease after its last heartbeat. Choose `interval`
    /// well below the lease (a third of it, say) so that one slow or failed heartbeat does not
    /// lose it. A heartbeat that finds the lease lost stops; the run then answers
    /// [`Outcome::LeaseLost`]. The work is never cancelled: stopping it half-way could leave a
    /// half-done effect.
    ///
    /// An `interval` of zero, or not shorter than the lease, makes every claim fail with
    /// [`Error::InvalidLease`] before anything is written.
    pub fn heartbeat<F, Fut>(mut self, interval: Duration, sleep: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.heartbeat = Some((interval, sleeper(sleep)));
        self
    }

    /// When the key is in progress elsewhere, waits up to `timeout` (time spent sleeping, not
    /// counting round trips) for that run to finish, claiming again with growing pauses (never
    /// past the other holder's lease deadline), using the caller's `sleep` as the timer.
    ///
    /// The claim then answers what the other run left: a [duplicate](Outcome::Duplicate) with
    /// its result when it completed, the key itself when it failed or crashed (the work runs
    /// here), or [`Outcome::InProgress`] when `timeout` passes first. Useful for request/response
    /// APIs, where a client's retry should get the first request's response rather than an
    /// error; a message consumer usually nacks instead.
    pub fn wait<F, Fut>(mut self, timeout: Duration, sleep: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.wait = Some((timeout, sleeper(sleep)));
        self
    }

    /// The lease duration claims ask for.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The TTL completed records get.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Refuses a heartbeat that cannot keep the lease.
    fn check(&self) -> Result<(), Error> {
        match &self.heartbeat {
            Some((interval, _)) if interval.is_zero() || *interval >= self.lease => {
                Err(Error::InvalidLease {
                    lease: self.lease,
                    reason: "the heartbeat interval must be greater than zero and shorter than the lease",
                })
            }
            _ => Ok(()),
        }
    }

    fn check_batch(&self) -> Result<(), Error> {
        self.check()?;
        if self.fingerprint.is_some() {
            return Err(Error::Unsupported {
                store: "RunOnce",
                operation: "a batch with a fingerprint (a fingerprint belongs to one request)",
            });
        }
        Ok(())
    }

    /// Claims `key`: the first step of a run, for callers that take the steps themselves (see
    /// [`Attempt`]). Waits for an in-progress duplicate if [`wait`](Self::wait) is set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use one_core::{Claimed, RunOnce, make_key};
    /// use one_memory::MemoryStore;
    ///
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new(Duration::from_secs(3600))?;
    /// let once = RunOnce::new(Duration::from_secs(30), Duration::from_secs(3600));
    /// match once.claim(&store, &make_key(&"order-17")?).await? {
    ///     Claimed::Acquired(attempt) => {
    ///         // Hand the fencing token to a downstream that refuses stale writers:
    ///         let token = attempt.lease().token();
    ///         // ... write with `token` ...
    ///         attempt.complete(Some(format!("written with token {token}").as_bytes())).await?;
    ///     }
    ///     Claimed::Duplicate(stored) => println!("done before: {stored:?}"),
    ///     Claimed::InProgress { retry_after } => println!("busy; retry in {retry_after:?}"),
    ///     Claimed::Mismatch => println!("the key was used for another request"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The store's error; [`Error::InvalidLease`] for an unusable heartbeat interval.
    pub async fn claim<'a, S>(&'a self, store: &'a S, key: &Key) -> Result<Claimed<'a, S>, Error>
    where
        S: Store + ?Sized,
    {
        self.check()?;
        let mut waiting = self.wait.as_ref().map(Waiting::new);
        loop {
            let claim = store
                .claim(key, self.lease, self.fingerprint.as_ref())
                .await?;
            if let (Claim::InProgress { retry_after }, Some(waiting)) = (&claim, &mut waiting)
                && waiting.pause(*retry_after).await
            {
                continue;
            }
            return Ok(self.claimed(store, claim));
        }
    }

    /// Claims every key with one [`Store::claim_many`] (one round trip on backends that
    /// support it): one answer per key, in order. Waits for in-progress keys if
    /// [`wait`](Self::wait) is set (re-claiming only those, again in one call). A key repeated in
    /// the batch is acquired once; its other copies answer `InProgress` without waiting.
    ///
    /// The leases start now: run the acquired attempts concurrently (as
    /// [`run_many`](Self::run_many) does), or choose a lease that covers the whole batch.
    ///
    /// # Errors
    ///
    /// Per key: the store's error; every key fails with [`Error::Unsupported`] when this
    /// `RunOnce` has a fingerprint, and with [`Error::InvalidLease`] for an unusable heartbeat
    /// interval.
    pub async fn claim_many<'a, S>(
        &'a self,
        store: &'a S,
        keys: &[Key],
    ) -> Vec<Result<Claimed<'a, S>, Error>>
    where
        S: Store + ?Sized,
    {
        if keys.is_empty() {
            return Vec::new();
        }
        if self.check_batch().is_err() {
            // `Error` is not `Clone`: one fresh error per key.
            return keys
                .iter()
                .filter_map(|_| self.check_batch().err())
                .map(Err)
                .collect();
        }
        let mut answers = claim_many_checked(store, keys, self.lease).await;
        if let Some(mut waiting) = self.wait.as_ref().map(Waiting::new) {
            loop {
                let busy = still_busy(keys, &answers);
                let Some(soonest) = busy.iter().map(|&(_, left)| left).min() else {
                    break;
                };
                if !waiting.pause(soonest).await {
                    break;
                }
                let again: Vec<Key> = busy.iter().map(|&(i, _)| keys[i]).collect();
                let answered = claim_many_checked(store, &again, self.lease).await;
                for ((i, _), answer) in busy.into_iter().zip(answered) {
                    answers[i] = answer;
                }
            }
        }
        answers
            .into_iter()
            .map(|answer| answer.map(|claim| self.claimed(store, claim)))
            .collect()
    }

    fn claimed<'a, S: ?Sized>(&'a self, store: &'a S, claim: Claim) -> Claimed<'a, S> {
        match claim {
            Claim::Acquired(lease) => Claimed::Acquired(Attempt {
                once: self,
                store,
                lease,
            }),
            Claim::InProgress { retry_after } => Claimed::InProgress { retry_after },
            Claim::Completed { result } => Claimed::Duplicate(result),
            Claim::Mismatch => Claimed::Mismatch,
        }
    }

    /// Runs `work` unless the key was completed or is claimed by someone else: claims, runs the
    /// work (with heartbeats, if set), then completes with the work's result or releases the
    /// claim if the work fails.
    ///
    /// If the returned future is dropped while the work runs (or the process dies), the claim is
    /// left to expire at its lease deadline, after which a redelivery runs the work again.
    ///
    /// # Errors
    ///
    /// [`RunError::Work`] when the work fails (the claim is released first; if releasing fails
    /// too, the claim expires at its deadline), [`RunError::Store`] when the store fails before
    /// the work runs, [`RunError::Unrecorded`] when it fails to record a finished run.
    pub async fn run<S, F, Fut, T, E>(
        &self,
        store: &S,
        key: &Key,
        work: F,
    ) -> Result<Outcome<T>, RunError<E>>
    where
        S: Store + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Replay,
    {
        self.claim(store, key).await?.run(work).await
    }

    /// [`run`](Self::run) for a batch: claims every key with one
    /// [`claim_many`](Self::claim_many), then runs `work(i)` for each key `keys[i]` acquired,
    /// all concurrently on the calling task (like `futures::future::join_all`), each completed or
    /// released on its own. One answer per key, in order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use one_core::{Outcome, RunOnce, make_key};
    /// use one_memory::MemoryStore;
    ///
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new(Duration::from_secs(3600))?;
    /// let once = RunOnce::new(Duration::from_secs(30), Duration::from_secs(3600));
    /// let messages = ["a", "b", "a"]; // a batch with a duplicate in it
    /// let keys = messages.iter().map(make_key).collect::<Result<Vec<_>, _>>()?;
    ///
    /// let outcomes = once
    ///     .run_many(&store, &keys, |i| async move { Ok::<_, std::io::Error>(messages[i].to_uppercase()) })
    ///     .await;
    /// assert!(matches!(outcomes[0], Ok(Outcome::Ran(ref s)) if s == "A"));
    /// assert!(matches!(outcomes[1], Ok(Outcome::Ran(ref s)) if s == "B"));
    /// assert!(matches!(outcomes[2], Ok(Outcome::InProgress { .. }))); // the copy of "a" in this batch
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn run_many<S, F, Fut, T, E>(
        &self,
        store: &S,
        keys: &[Key],
        mut work: F,
    ) -> Vec<Result<Outcome<T>, RunError<E>>>
    where
        S: Store + ?Sized,
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Replay,
    {
        let claims = self.claim_many(store, keys).await;
        let runs = claims.into_iter().enumerate().map(|(i, claimed)| {
            let job = match claimed.map(Claimed::into_attempt) {
                Ok(Ok(attempt)) => Ok((attempt, work(i))),
                Ok(Err(outcome)) => Err(Ok(outcome)),
                Err(e) => Err(Err(RunError::Store(e))),
            };
            async move {
                match job {
                    Ok((attempt, running)) => attempt.run(move || running).await,
                    Err(done) => done,
                }
            }
        });
        join_all(runs.collect()).await
    }
}

/// [`Store::claim_many`], with a wrong number of answers turned into errors (fail closed).
async fn claim_many_checked<S: Store + ?Sized>(
    store: &S,
    keys: &[Key],
    lease: Duration,
) -> Vec<Result<Claim, Error>> {
    let answers = store.claim_many(keys, lease).await;
    if answers.len() == keys.len() {
        return answers;
    }
    let count = answers.len();
    keys.iter()
        .map(|_| {
            Err(Error::Backend {
                store: "claim_many",
                source: format!("{count} answers for {} keys", keys.len()).into(),
            })
        })
        .collect()
}

/// The answers worth waiting for: in progress, on a key this batch did not acquire itself, each
/// key once; with the time left on their leases.
fn still_busy(keys: &[Key], answers: &[Result<Claim, Error>]) -> Vec<(usize, Duration)> {
    let ours: Vec<&Key> = keys
        .iter()
        .zip(answers)
        .filter(|(_, a)| matches!(a, Ok(Claim::Acquired(_))))
        .map(|(k, _)| k)
        .collect();
    let mut busy: Vec<(usize, Duration)> = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        if let Ok(Claim::InProgress { retry_after }) = answer
            && !ours.contains(&&keys[i])
            && !busy.iter().any(|&(j, _)| keys[j] == keys[i])
        {
            busy.push((i, *retry_after));
        }
    }
    busy
}

/// The state of a bounded wait for an in-progress key.
struct Waiting<'a> {
    timeout: Duration,
    sleep: &'a Sleep,
    waited: Duration,
    next: Duration,
}

impl<'a> Waiting<'a> {
    fn new((timeout, sleep): &'a (Duration, Sleep)) -> Self {
        Waiting {
            timeout: *timeout,
            sleep,
            waited: Duration::ZERO,
            next: (*timeout / 32).max(MIN_PAUSE),
        }
    }

    /// Sleeps before the next claim (doubling pauses, never past the holder's deadline nor the
    /// timeout); false when the time is up.
    async fn pause(&mut self, retry_after: Duration) -> bool {
        if self.waited >= self.timeout {
            return false;
        }
        let nap = self
            .next
            .min(retry_after)
            .max(MIN_PAUSE)
            .min(self.timeout - self.waited);
        (self.sleep)(nap).await;
        self.waited += nap;
        self.next = self.next.saturating_mul(2);
        true
    }
}

/// What [`RunOnce::claim`] found.
#[must_use = "an acquired claim must be run, completed or released"]
pub enum Claimed<'a, S: ?Sized> {
    /// This caller holds the key: [`run`](Attempt::run) the work, or take the steps yourself.
    Acquired(Attempt<'a, S>),
    /// The work was done already; here is what that run stored, for replay.
    Duplicate(Option<Vec<u8>>),
    /// Another worker holds the key (after waiting, if [`RunOnce::wait`] is set).
    InProgress {
        /// Time left on the other worker's lease.
        retry_after: Duration,
    },
    /// The key was used before for a request with a different fingerprint.
    Mismatch,
}

impl<S: ?Sized> fmt::Debug for Claimed<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Claimed::Acquired(attempt) => f.debug_tuple("Acquired").field(attempt).finish(),
            Claimed::Duplicate(result) => f.debug_tuple("Duplicate").field(result).finish(),
            Claimed::InProgress { retry_after } => f
                .debug_struct("InProgress")
                .field("retry_after", retry_after)
                .finish(),
            Claimed::Mismatch => f.write_str("Mismatch"),
        }
    }
}

impl<'a, S: Store + ?Sized> Claimed<'a, S> {
    /// Runs `work` if the key was acquired (see [`Attempt::run`]); otherwise answers what the
    /// claim found.
    ///
    /// # Errors
    ///
    /// As [`Attempt::run`].
    pub async fn run<F, Fut, T, E>(self, work: F) -> Result<Outcome<T>, RunError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Replay,
    {
        match self.into_attempt() {
            Ok(attempt) => attempt.run(work).await,
            Err(outcome) => Ok(outcome),
        }
    }

    /// The attempt, or the outcome when there is nothing to run.
    fn into_attempt<T>(self) -> Result<Attempt<'a, S>, Outcome<T>> {
        match self {
            Claimed::Acquired(attempt) => Ok(attempt),
            Claimed::Duplicate(result) => Err(Outcome::Duplicate(result)),
            Claimed::InProgress { retry_after } => Err(Outcome::InProgress { retry_after }),
            Claimed::Mismatch => Err(Outcome::Mismatch),
        }
    }
}

/// A claim held by this caller: run the work with [`run`](Self::run), or take the steps
/// yourself ([`complete`](Self::complete), [`release`](Self::release),
/// [`extend`](Self::extend)).
///
/// Dropping an attempt does nothing: the claim then expires at its lease deadline, as if the
/// worker had crashed. Release it to give the key back at once.
#[must_use = "the claim is held until it is completed, released, or its lease runs out"]
pub struct Attempt<'a, S: ?Sized> {
    once: &'a RunOnce,
    store: &'a S,
    lease: Lease,
}

impl<S: ?Sized> fmt::Debug for Attempt<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl<S: Store + ?Sized> Attempt<'_, S> {
    /// The lease held: its key, and the [fencing token](crate::FencingToken) to hand to a
    /// downstream system that can refuse writes from a stale holder.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Runs `work` (sending heartbeats, if set), then completes the claim with the work's
    /// result, or releases it when the work fails.
    ///
    /// Answers [`Outcome::Ran`], or [`Outcome::LeaseLost`] when the claim was lost before it
    /// could be completed.
    ///
    /// # Errors
    ///
    /// [`RunError::Work`] when the work fails (the claim is released first),
    /// [`RunError::Unrecorded`] when the work ran but completing failed.
    pub async fn run<F, Fut, T, E>(self, work: F) -> Result<Outcome<T>, RunError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Replay,
    {
        let done = match &self.once.heartbeat {
            Some((interval, sleep)) => self.beating(*interval, sleep, work()).await,
            None => work().await,
        };
        match done {
            Ok(value) => {
                let result = value.replay_bytes();
                match self.complete(result.as_deref()).await {
                    Ok(()) => Ok(Outcome::Ran(value)),
                    Err(Error::LeaseLost { .. }) => Ok(Outcome::LeaseLost(value)),
                    // Not released: the work's effect happened, so the key must not be handed
                    // out again before the lease deadline.
                    Err(source) => Err(RunError::Unrecorded { result, source }),
                }
            }
            Err(e) => {
                // If this fails the claim still ends at its deadline; the work's error matters more.
                let _ = self.release().await;
                Err(RunError::Work(e))
            }
        }
    }

    /// Polls `work` and, beside it, a heartbeat that extends the lease every `interval` until
    /// the work finishes or the lease is lost.
    async fn beating<Fut: Future>(
        &self,
        interval: Duration,
        sleep: &Sleep,
        work: Fut,
    ) -> Fut::Output {
        let beats = async {
            loop {
                sleep(interval).await;
                if let Err(Error::LeaseLost { .. }) = self.extend().await {
                    return;
                }
                // Any other failure: the next beat tries again. If the lease runs out
                // meanwhile, completing reports it.
            }
        };
        let mut work = pin!(work);
        let mut beats = pin!(beats);
        let mut beating = true;
        poll_fn(move |cx| {
            if let Poll::Ready(output) = work.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            if beating && beats.as_mut().poll(cx).is_ready() {
                beating = false;
            }
            Poll::Pending
        })
        .await
    }

    /// Completes the claim, storing `result` for replay, for the record's TTL.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] if the claim was lost; the store's error.
    pub async fn complete(&self, result: Option<&[u8]>) -> Result<(), Error> {
        self.store
            .complete(&self.lease, self.once.ttl, result)
            .await
    }

    /// Releases the claim so that a retry can run the work.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] if the claim was lost; the store's error.
    pub async fn release(&self) -> Result<(), Error> {
        self.store.release(&self.lease).await
    }

    /// Extends the lease to its full duration from now (one heartbeat).
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] if the claim was lost; the store's error.
    pub async fn extend(&self) -> Result<(), Error> {
        self.store.extend(&self.lease, self.once.lease).await
    }
}

/// Polls every future on the calling task until all are done; their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

//! An idempotent payment endpoint, Stripe style: the client sends an `Idempotency-Key` with
//! each request and may retry it as often as it likes; the card is charged once.
//!
//! [`Endpoint::post`] runs the charge with [`RunOnce`], keyed by the idempotency key and
//! fingerprinted by the payload:
//!
//! | the key was | the answer |
//! |---|---|
//! | new | the charge runs; its response (201, or 402 for a declined card) is stored and returned |
//! | completed | the stored response, replayed byte for byte (`Idempotent-Replayed: true`) |
//! | used with another payload | 422, nothing runs |
//! | in progress (a concurrent retry) | 409 with `Retry-After`, or, with [`Endpoint::post_and_wait`], the first request's response once it is done |
//! | failed (the bank was unreachable) | released: 503 now, and a retry charges |
//!
//! A failure that would give the same answer again (a declined card) is a response, stored and
//! replayed; a failure a retry may fix (the bank is down) releases the key.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use one_core::{KeySpace, Outcome, Replay, RunError, RunOnce, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// A payment request: the idempotency key (a header) and the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentRequest {
    /// The client's `Idempotency-Key`.
    #[serde(skip)]
    pub idempotency_key: String,
    /// The account to charge.
    pub account: String,
    /// The amount, in cents.
    pub amount_cents: u64,
    /// The currency, e.g. `EUR`.
    pub currency: String,
}

impl PaymentRequest {
    /// A request for `amount_cents` in EUR from `account`, under `idempotency_key`.
    pub fn new(idempotency_key: &str, account: &str, amount_cents: u64) -> Self {
        PaymentRequest {
            idempotency_key: idempotency_key.to_owned(),
            account: account.to_owned(),
            amount_cents,
            currency: "EUR".to_owned(),
        }
    }
}

/// An HTTP response, as far as the example needs one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The JSON body.
    pub body: String,
    /// `Retry-After`, in milliseconds (409 and 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// `Idempotent-Replayed: true`: a stored response, not a new run. Not stored itself.
    #[serde(skip)]
    pub replayed: bool,
}

impl Response {
    fn new(status: u16, body: String) -> Self {
        Response {
            status,
            body,
            retry_after_ms: None,
            replayed: false,
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Response::new(status, serde_json::json!({ "error": message }).to_string())
    }
}

/// The stored form of a response: its JSON, replayed by a duplicate.
impl Replay for Response {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(self).ok()
    }
}

/// Why the bank did not charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankError {
    /// The bank could not be reached: retrying may succeed.
    Unavailable,
}

impl std::fmt::Display for BankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bank is unavailable")
    }
}

impl std::error::Error for BankError {}

/// One charge the bank made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// The charge's id, `ch_1`, `ch_2`, ...
    pub id: String,
    /// The account charged.
    pub account: String,
    /// The amount, in cents.
    pub amount_cents: u64,
}

/// The downstream that moves money: an in-memory stand-in that records every charge, declines
/// the account `acct-declined`, can be made unreachable, and can hold a charge half-way (to
/// show a concurrent retry).
#[derive(Default)]
pub struct Bank {
    charges: Mutex<Vec<Charge>>,
    outages: AtomicU32,
    hold: Mutex<Option<Hold>>,
}

/// Holds the next charge until released.
#[derive(Clone, Default)]
pub struct Hold {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

impl Hold {
    /// Waits until the held charge has started.
    pub async fn started(&self) {
        self.started.notified().await;
    }

    /// Lets the held charge finish.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

/// What charging did: a charge, or a decline (both final answers for the key).
enum Charged {
    Charged(Charge),
    Declined,
}

impl Bank {
    /// Every charge made so far.
    pub fn charges(&self) -> Vec<Charge> {
        self.charges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The next `n` charges fail as unreachable.
    pub fn fail_next(&self, n: u32) {
        self.outages.store(n, Ordering::SeqCst);
    }

    /// Holds the next charge half-way until the returned [`Hold`] is released.
    pub fn hold_next(&self) -> Hold {
        let hold = Hold::default();
        *self.hold.lock().unwrap_or_else(|p| p.into_inner()) = Some(hold.clone());
        hold
    }

    async fn charge(&self, account: &str, amount_cents: u64) -> Result<Charged, BankError> {
        let outage = self
            .outages
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if outage.is_ok() {
            return Err(BankError::Unavailable);
        }
        let hold = self.hold.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(hold) = hold {
            hold.started.notify_one();
            hold.release.notified().await;
        }
        if account == "acct-declined" {
            return Ok(Charged::Declined);
        }
        let mut charges = self.charges.lock().unwrap_or_else(|p| p.into_inner());
        let charge = Charge {
            id: format!("ch_{}", charges.len() + 1),
            account: account.to_owned(),
            amount_cents,
        };
        charges.push(charge.clone());
        Ok(Charged::Charged(charge))
    }
}

/// The payment endpoint: `POST /payments` with an `Idempotency-Key`.
pub struct Endpoint {
    store: Arc<dyn Store>,
    bank: Arc<Bank>,
    keys: KeySpace,
    lease: Duration,
    ttl: Duration,
}

impl Endpoint {
    /// An endpoint charging through `bank`, remembering idempotency keys in `store` for a day
    /// (Stripe keeps them 24 hours), with a 30 s lease on a charge in progress.
    pub fn new(store: Arc<dyn Store>, bank: Arc<Bank>) -> Self {
        Endpoint {
            store,
            bank,
            keys: KeySpace::new("payments"),
            lease: Duration::from_secs(30),
            ttl: Duration::from_secs(24 * 60 * 60),
        }
    }

    /// Handles a request: a concurrent retry gets 409 at once.
    pub async fn post(&self, request: &PaymentRequest) -> Response {
        self.handle(request, None).await
    }

    /// Handles a request; a concurrent retry waits up to `timeout` for the first request and
    /// answers its response (409 if it is still running then).
    pub async fn post_and_wait(&self, request: &PaymentRequest, timeout: Duration) -> Response {
        self.handle(request, Some(timeout)).await
    }

    async fn handle(&self, request: &PaymentRequest, wait: Option<Duration>) -> Response {
        if request.idempotency_key.is_empty() {
            return Response::error(400, "an Idempotency-Key is required");
        }
        let (Ok(key), Ok(fingerprint)) = (
            self.keys.key(&request.idempotency_key),
            self.keys.key(request),
        ) else {
            return Response::error(400, "the request cannot be keyed");
        };
        let mut once = RunOnce::new(self.lease, self.ttl).fingerprint(fingerprint);
        if let Some(timeout) = wait {
            once = once.wait(timeout, tokio::time::sleep);
        }
        let outcome = once.run(&*self.store, &key, || self.charge(request)).await;
        match outcome {
            Ok(Outcome::Ran(response)) => response,
            Ok(Outcome::Duplicate(Some(stored))) => replay(&stored),
            Ok(Outcome::Duplicate(None)) => {
                Response::error(500, "the idempotency record holds no response")
            }
            Ok(Outcome::InProgress { retry_after }) => Response {
                retry_after_ms: Some(retry_after.as_millis() as u64),
                ..Response::error(409, "a request with this Idempotency-Key is in progress")
            },
            Ok(Outcome::Mismatch) => Response::error(
                422,
                "this Idempotency-Key was used with a different request",
            ),
            // The charge happened, but its lease ran out before it was recorded: the client is
            // told what happened; a retry may charge again, so this is where an alert and a
            // reconciliation belong. (A 30 s lease makes it very rare.)
            Ok(Outcome::LeaseLost(response)) => response,
            Err(RunError::Work(BankError::Unavailable)) => Response {
                retry_after_ms: Some(1000),
                ..Response::error(503, "the bank is unavailable; retry with the same key")
            },
            // Charged, but not recorded (the store failed): answer what happened.
            Err(RunError::Unrecorded {
                result: Some(stored),
                ..
            }) => replay(&stored),
            // Fail closed: when the store cannot say, nobody is charged.
            Err(_) => Response {
                retry_after_ms: Some(1000),
                ..Response::error(503, "the idempotency store is unavailable; retry")
            },
        }
    }

    /// The work: charge, and turn the bank's answer into the response to store.
    async fn charge(&self, request: &PaymentRequest) -> Result<Response, BankError> {
        match self
            .bank
            .charge(&request.account, request.amount_cents)
            .await?
        {
            Charged::Charged(charge) => Ok(Response::new(
                201,
                serde_json::json!({
                    "id": charge.id,
                    "account": charge.account,
                    "amount": charge.amount_cents,
                    "currency": request.currency,
                    "status": "succeeded",
                })
                .to_string(),
            )),
            Charged::Declined => Ok(Response::error(402, "the card was declined")),
        }
    }
}

fn replay(stored: &[u8]) -> Response {
    match serde_json::from_slice::<Response>(stored) {
        Ok(response) => Response {
            replayed: true,
            ..response
        },
        Err(_) => Response::error(500, "the stored response cannot be read"),
    }
}

/// One request and its response, for the walkthrough.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// What the step shows.
    pub title: &'static str,
    /// The request.
    pub request: PaymentRequest,
    /// The response.
    pub response: Response,
}

/// The walkthrough `payments` prints: a first request and its retry, a reused key, a concurrent
/// retry, a waiting retry, a bank outage, a declined card.
pub async fn walkthrough(endpoint: &Endpoint, bank: &Bank) -> Vec<Exchange> {
    let mut log = Vec::new();
    let mut step = |title, request: &PaymentRequest, response| {
        log.push(Exchange {
            title,
            request: request.clone(),
            response,
        });
    };

    let order = PaymentRequest::new("order-1001", "acct-alice", 1000);
    step("a new payment", &order, endpoint.post(&order).await);
    step(
        "the client retries (its connection dropped)",
        &order,
        endpoint.post(&order).await,
    );
    let other = PaymentRequest {
        amount_cents: 1200,
        ..order.clone()
    };
    step(
        "the same key with another amount",
        &other,
        endpoint.post(&other).await,
    );

    let slow = PaymentRequest::new("order-1002", "acct-bob", 2500);
    let hold = bank.hold_next();
    let (first, retry) = tokio::join!(endpoint.post(&slow), async {
        hold.started().await;
        let retry = endpoint.post(&slow).await;
        hold.release();
        retry
    });
    step(
        "a retry while the first request is still charging",
        &slow,
        retry,
    );
    step("... the first request, once the bank answers", &slow, first);
    step(
        "a retry after it finished",
        &slow,
        endpoint.post(&slow).await,
    );

    let waited = PaymentRequest::new("order-1003", "acct-carol", 700);
    let hold = bank.hold_next();
    let (first, retry) = tokio::join!(endpoint.post(&waited), async {
        hold.started().await;
        let (retry, ()) = tokio::join!(
            endpoint.post_and_wait(&waited, Duration::from_secs(2)),
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                hold.release();
            }
        );
        retry
    });
    step("the first of two concurrent requests", &waited, first);
    step(
        "a concurrent retry that waits for the first",
        &waited,
        retry,
    );

    let outage = PaymentRequest::new("order-1004", "acct-dave", 4200);
    bank.fail_next(1);
    step(
        "the bank is unreachable",
        &outage,
        endpoint.post(&outage).await,
    );
    step(
        "the client retries later",
        &outage,
        endpoint.post(&outage).await,
    );

    let declined = PaymentRequest::new("order-1005", "acct-declined", 990);
    step("a declined card", &declined, endpoint.post(&declined).await);
    step(
        "the client retries the declined card",
        &declined,
        endpoint.post(&declined).await,
    );
    log
}

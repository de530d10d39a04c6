//! The payment endpoint's walkthrough, answer by answer, and the bank's charges.

use std::sync::Arc;
use std::time::Duration;

use one_examples::payments::{Bank, Endpoint, PaymentRequest, walkthrough};
use one_memory::MemoryStore;

fn endpoint() -> (Endpoint, Arc<Bank>) {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(3600)).unwrap());
    let bank = Arc::new(Bank::default());
    (Endpoint::new(store, Arc::clone(&bank)), bank)
}

#[tokio::test]
async fn every_order_is_charged_once_whatever_the_retries() {
    let (endpoint, bank) = endpoint();
    let log = walkthrough(&endpoint, &bank).await;
    let answers: Vec<(&str, u16, bool)> = log
        .iter()
        .map(|e| {
            (
                e.request.idempotency_key.as_str(),
                e.response.status,
                e.response.replayed,
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            ("order-1001", 201, false),
            ("order-1001", 201, true),
            ("order-1001", 422, false),
            ("order-1002", 409, false),
            ("order-1002", 201, false),
            ("order-1002", 201, true),
            ("order-1003", 201, false),
            ("order-1003", 201, true),
            ("order-1004", 503, false),
            ("order-1004", 201, false),
            ("order-1005", 402, false),
            ("order-1005", 402, true),
        ]
    );
    // A replay is the first response, byte for byte.
    assert_eq!(log[1].response.body, log[0].response.body);
    assert_eq!(log[5].response.body, log[4].response.body);
    assert_eq!(log[7].response.body, log[6].response.body);
    // 409 and 503 say when to retry.
    assert!(log[3].response.retry_after_ms.is_some_and(|ms| ms > 0));
    assert!(log[8].response.retry_after_ms.is_some());

    let charged: Vec<(String, u64)> = bank
        .charges()
        .into_iter()
        .map(|c| (c.account, c.amount_cents))
        .collect();
    assert_eq!(
        charged,
        [
            ("acct-alice".to_string(), 1000),
            ("acct-bob".to_string(), 2500),
            ("acct-carol".to_string(), 700),
            ("acct-dave".to_string(), 4200),
        ]
    );
}

#[tokio::test]
async fn concurrent_requests_with_one_key_charge_once() {
    let (endpoint, bank) = endpoint();
    let request = PaymentRequest::new("order-2001", "acct-erin", 5000);
    let responses = futures::future::join_all(
        (0..16).map(|_| endpoint.post_and_wait(&request, Duration::from_secs(5))),
    )
    .await;
    assert!(responses.iter().all(|r| r.status == 201), "{responses:?}");
    assert_eq!(responses.iter().filter(|r| !r.replayed).count(), 1);
    assert_eq!(bank.charges().len(), 1);
}

#[tokio::test]
async fn a_request_without_an_idempotency_key_is_refused() {
    let (endpoint, bank) = endpoint();
    let response = endpoint
        .post(&PaymentRequest::new("", "acct-frank", 100))
        .await;
    assert_eq!(response.status, 400);
    assert!(bank.charges().is_empty());
}

//! An idempotent payment endpoint: retries with the same `Idempotency-Key` replay the first
//! response, a reused key with another payload is refused (422), a concurrent retry gets 409
//! (or waits for the first request), and the card is charged once.
//!
//! ```text
//! cargo run -p one-examples --bin payments
//! ONE_REDIS_URL=redis://127.0.0.1:6379 cargo run -p one-examples --bin payments
//! ```
//!
//! The endpoint is `one_examples::payments::Endpoint`; this program walks through the cases
//! and prints each request, its response and, at the end, the bank's charges.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use one_examples::backend::Backend;
use one_examples::payments::{Bank, Endpoint, walkthrough};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("payments: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let backend = Backend::from_env();
    let store = backend
        .store("payments", Duration::from_secs(24 * 60 * 60))
        .map_err(|e| format!("cannot create the store: {e}"))?;
    let bank = Arc::new(Bank::default());
    let endpoint = Endpoint::new(store, Arc::clone(&bank));
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no tokio runtime: {e}"))?;
    println!("POST /payments, idempotency keys on {backend}\n");
    for exchange in runtime.block_on(walkthrough(&endpoint, &bank)) {
        let (request, response) = (&exchange.request, &exchange.response);
        println!("{}", exchange.title);
        println!(
            "  -> Idempotency-Key: {}  {{account: {}, amount: {} {}}}",
            request.idempotency_key, request.account, request.amount_cents, request.currency
        );
        let mut headers = String::new();
        if response.replayed {
            headers.push_str("  Idempotent-Replayed: true");
        }
        if let Some(ms) = response.retry_after_ms {
            headers.push_str(&format!("  Retry-After: {ms} ms"));
        }
        println!("  <- {}{headers}  {}\n", response.status, response.body);
    }
    println!("the bank's charges:");
    for charge in bank.charges() {
        println!("  {} {} {}", charge.id, charge.account, charge.amount_cents);
    }
    Ok(())
}

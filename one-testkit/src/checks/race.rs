//! Concurrent writers on one key: exactly one wins.

use std::future::Future;
use std::sync::Arc;

use one_core::{Claim, Error, Store};
use tokio::sync::Barrier;

use super::expect::*;
use super::{Keys, LONG, RACERS, profile};
use crate::Fixture;

/// Runs `racer(store, i)` for `i in 0..n` on `n` tasks released together by a barrier, and
/// returns their answers in order of `i`.
async fn race<S, T, Fut>(store: &Arc<S>, n: usize, racer: impl Fn(Arc<S>, usize) -> Fut) -> Vec<T>
where
    S: Store + ?Sized + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, attempt) = (Arc::clone(&barrier), racer(Arc::clone(store), i));
            tokio::spawn(async move {
                barrier.wait().await;
                attempt.await
            })
        })
        .collect();
    let finished = futures::future::join_all(tasks).await;
    finished
        .into_iter()
        .map(|task| match task {
            Ok(answer) => answer,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a racing task did not finish: {e}"),
        })
        .collect()
}

/// Asserts exactly one `Ok(true)` and `RACERS - 1` `Ok(false)`.
#[track_caller]
fn one_winner(answers: &[Result<bool, Error>], what: &str) {
    let wins = answers.iter().filter(|a| matches!(a, Ok(true))).count();
    let duplicates = answers.iter().filter(|a| matches!(a, Ok(false))).count();
    let errors: Vec<String> = answers
        .iter()
        .filter_map(|a| a.as_ref().err())
        .map(ToString::to_string)
        .collect();
    assert!(
        wins == 1 && duplicates == answers.len() - 1,
        "{what}: {} concurrent adds of one key must give exactly one Ok(true) and {} Ok(false); \
         got {wins} Ok(true), {duplicates} Ok(false), errors: {errors:?}",
        answers.len(),
        answers.len() - 1
    );
}

/// **`add`**: of concurrent adds of one absent key exactly one gets `Ok(true)`, all others
/// `Ok(false)`; `profile.race_rounds` rounds of 32 racers. (case-08)
pub async fn add_race_has_one_winner<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("add_race_has_one_winner");
    let store = Arc::new(fx.store(LONG).await);
    for round in 0..p.race_rounds {
        let key = keys.nth("race", round);
        let answers = race(
            &store,
            RACERS,
            |store, _| async move { store.add(&key).await },
        )
        .await;
        one_winner(&answers, &format!("case-08: round {round}"));
        expect_bool(
            store.has_key(&key).await,
            true,
            "case-08: has_key after the race",
        );
    }
}

/// **`add`**: of concurrent adds of an *expired* key exactly one opens the new window.
/// (case-08 variant)
pub async fn add_race_on_expired_key_has_one_winner<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("add_race_on_expired_key_has_one_winner");
    let store = Arc::new(fx.store(p.ttl).await);
    // One advance expires them all; each key is then one round.
    let expired: Vec<_> = (0..p.race_rounds.min(100))
        .map(|i| keys.nth("expired", i))
        .collect();
    for key in &expired {
        expect_bool(store.add(key).await, true, "add before the race");
    }
    fx.advance(p.ttl + p.margin).await;
    for (round, &key) in expired.iter().enumerate() {
        let answers = race(&store, RACERS, |store, _| async move {
            store.add_with_ttl(&key, LONG).await
        })
        .await;
        one_winner(&answers, &format!("case-08: expired key, round {round}"));
    }
}

/// One racer's answer in [`add_racing_claim_has_one_winner`].
#[derive(Debug)]
enum Answer {
    Add(Result<bool, Error>),
    Claim(Result<Claim, Error>),
}

/// **`add` and the lease tier share the key space**: on a fresh key, 16 adds racing 16 claims
/// give exactly one winner (`Ok(true)` or `Acquired`); the losers see the winner's record
/// (`Ok(false)`; `InProgress` after a claim, `Completed { result: None }` after an add).
/// (case-08 variant)
pub async fn add_racing_claim_has_one_winner<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("add_racing_claim_has_one_winner");
    let store = Arc::new(fx.store(LONG).await);
    for round in 0..p.race_rounds {
        let key = keys.nth("race", round);
        let answers = race(&store, RACERS, |store, i| async move {
            if i % 2 == 0 {
                Answer::Add(store.add(&key).await)
            } else {
                Answer::Claim(store.claim(&key, LONG, None).await)
            }
        })
        .await;
        let add_wins = answers
            .iter()
            .filter(|a| matches!(a, Answer::Add(Ok(true))))
            .count();
        let claim_wins = answers
            .iter()
            .filter(|a| matches!(a, Answer::Claim(Ok(Claim::Acquired(_)))))
            .count();
        assert_eq!(
            add_wins + claim_wins,
            1,
            "case-08: round {round}: 16 adds racing 16 claims on a fresh key must have exactly \
             one winner; got {add_wins} Ok(true) and {claim_wins} Acquired: {answers:?}"
        );
        for answer in &answers {
            let consistent = match answer {
                Answer::Add(Ok(_)) | Answer::Claim(Ok(Claim::Acquired(_))) => true,
                Answer::Claim(Ok(Claim::InProgress { .. })) => claim_wins == 1,
                Answer::Claim(Ok(Claim::Completed { result: None })) => add_wins == 1,
                _ => false,
            };
            assert!(
                consistent,
                "round {round}: a loser's answer {answer:?} does not match the winner \
                 ({add_wins} add, {claim_wins} claim); all answers: {answers:?}"
            );
        }
    }
}

/// **The lease tier**: of concurrent claims on one key exactly one acquires it; the others are
/// `InProgress`.
pub async fn claim_race_has_one_winner<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("claim_race_has_one_winner");
    let store = Arc::new(fx.store(LONG).await);
    for round in 0..p.race_rounds {
        let key = keys.nth("race", round);
        let answers = race(&store, RACERS, |store, _| async move {
            store.claim(&key, LONG, None).await
        })
        .await;
        let acquired = answers
            .iter()
            .filter(|a| matches!(a, Ok(Claim::Acquired(_))))
            .count();
        let in_progress = answers
            .iter()
            .filter(|a| matches!(a, Ok(Claim::InProgress { .. })))
            .count();
        assert!(
            acquired == 1 && in_progress == RACERS - 1,
            "round {round}: {RACERS} concurrent claims of one fresh key must give exactly one \
             Acquired and {} InProgress; got {acquired} Acquired, {in_progress} InProgress, \
             others: {:?}",
            RACERS - 1,
            answers
                .iter()
                .filter(|a| !matches!(a, Ok(Claim::Acquired(_) | Claim::InProgress { .. })))
                .collect::<Vec<_>>()
        );
    }
}

/// **`claim_many`**: of concurrent batches over the same keys (each in another order), every key
/// is acquired by exactly one batch; all other answers for it are `InProgress`.
/// `profile.race_rounds / 10` rounds (at least one) of 32 batches of 16 keys.
pub async fn claim_many_race_has_one_winner_per_key<F: Fixture>(fx: &F) {
    const KEYS: usize = 16;
    let p = profile(fx);
    let keys = Keys::new("claim_many_race_has_one_winner_per_key");
    let store = Arc::new(fx.store(LONG).await);
    for round in 0..(p.race_rounds / 10).max(1) {
        let batch: Vec<_> = (0..KEYS)
            .map(|i| keys.nth(&format!("round {round}"), i))
            .collect();
        let answers = race(&store, RACERS, |store, racer| {
            // Racer r claims the keys starting from key r, wrapping around.
            let mut mine = batch.clone();
            mine.rotate_left(racer % KEYS);
            async move {
                let answers = store.claim_many(&mine, LONG).await;
                (mine, answers)
            }
        })
        .await;
        let mut acquired = vec![0usize; KEYS];
        for (mine, answers) in &answers {
            assert_eq!(
                answers.len(),
                KEYS,
                "round {round}: claim_many must answer once per key: {answers:?}"
            );
            for (key, answer) in mine.iter().zip(answers) {
                let index = batch.iter().position(|k| k == key).expect("a batch key");
                match answer {
                    Ok(Claim::Acquired(lease)) => {
                        assert_eq!(lease.key(), key, "round {round}: a lease on another key");
                        acquired[index] += 1;
                    }
                    Ok(Claim::InProgress { .. }) => {}
                    other => panic!(
                        "round {round}: a batch answered {other:?} for a key only ever claimed"
                    ),
                }
            }
        }
        assert!(
            acquired.iter().all(|&n| n == 1),
            "round {round}: {RACERS} concurrent claim_many over the same {KEYS} keys must \
             acquire each key exactly once; acquisitions per key: {acquired:?}"
        );
    }
}

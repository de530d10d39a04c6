//! The macros: [`conformance_tests!`](crate::conformance_tests) and the one list of checks.

/// Generates one `#[test]` per check, run directly and through `Arc<dyn Store>`.
///
/// `conformance_tests!(name, fixture_expression)` expands, where it is called, to
///
/// ```text
/// mod name {
///     mod direct { #[test] fn add_then_duplicate() { .. } /* one per check */ }
///     mod as_dyn { #[test] fn add_then_duplicate() { .. } /* the same, through DynFixture */ }
/// }
/// ```
///
/// Each test builds its own fixture from the expression (inside the test's async runtime, so
/// the expression may `.await`), runs the check on a fresh multi-thread tokio runtime, and fails
/// if the check panics or outlives [`Profile::timeout`](crate::Profile::timeout). The expression
/// sees the names of the module the macro is called in. Only `one-testkit` is needed as a
/// dependency: the expansion names nothing else.
///
/// ```no_run
/// # use std::time::Duration;
/// # use one_testkit::{Fixture, Profile};
/// # struct MyFixture;
/// # impl MyFixture { fn new() -> Self { MyFixture } }
/// # #[one_testkit::async_trait]
/// # impl Fixture for MyFixture {
/// #     type Store = std::sync::Arc<dyn one_testkit::one_core::Store>;
/// #     async fn store(&self, _: Duration) -> Self::Store { unimplemented!() }
/// #     async fn advance(&self, _: Duration) {}
/// #     fn profile(&self) -> Profile { Profile::real_time() }
/// # }
/// one_testkit::conformance_tests!(my_backend, MyFixture::new());
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($name:ident, $fixture:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(dead_code)]
            async fn fixture() -> impl $crate::Fixture {
                $fixture
            }

            mod direct {
                $crate::__for_each_check!(__conformance_test(direct));
            }

            mod as_dyn {
                $crate::__for_each_check!(__conformance_test(as_dyn));
            }
        }
    };
}

/// The one list of checks: `__for_each_check!(callback(args))` expands to
/// `$crate::callback! { (args) check_a check_b .. }`. Every `pub async fn` in `checks` is here
/// once (a test compares this list with the sources).
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_check {
    ($callback:ident ( $($args:tt)* )) => {
        $crate::$callback! { ($($args)*)
            // add, TTLs and expiry
            add_then_duplicate
            add_uses_default_ttl
            add_with_ttl_sets_the_record_ttl
            zero_ttl_is_rejected
            zero_lease_is_rejected
            durations_over_max_are_rejected
            sub_millisecond_durations_round_up
            ttl_is_not_truncated_to_seconds
            duplicate_add_does_not_refresh_ttl
            reads_do_not_extend_life
            record_is_expired_at_its_deadline
            expiry_timeline_case_09
            // races
            add_race_has_one_winner
            add_race_on_expired_key_has_one_winner
            add_racing_claim_has_one_winner
            claim_race_has_one_winner
            claim_many_race_has_one_winner_per_key
            // has_key and remove
            remove_forgets_a_live_record
            remove_of_absent_or_expired_is_false
            // batches
            add_many_answers_each_key_in_order
            add_many_repeated_key_is_new_once
            add_many_of_nothing_is_empty
            add_many_uses_the_ttl
            claim_many_answers_each_key_in_order
            claim_many_refuses_a_zero_lease
            // key spaces
            key_spaces_are_independent
            // the lease tier
            claim_acquires_then_reports_in_progress
            in_progress_claim_is_a_present_record
            complete_stores_the_result_for_replay
            complete_without_result_replays_none
            record_written_by_add_reads_as_completed
            release_gives_the_key_back
            crashed_holder_expires_at_lease_deadline
            stale_holder_is_refused
            lease_past_its_deadline_is_lost
            extend_moves_the_lease_deadline
            completed_record_lives_for_its_ttl
            complete_twice_is_lease_lost
            release_after_complete_is_lease_lost
            remove_during_claim_loses_the_lease
            fingerprint_mismatch_is_reported
            record_without_fingerprint_never_mismatches
            fencing_tokens_are_never_reused
            // failures
            duplicate_is_an_answer_not_an_error
            failing_store_fails_closed
            // RunOnce
            run_once_runs_once_and_replays
            run_once_releases_the_claim_when_work_fails
            run_once_reports_in_progress
            run_once_reports_mismatch
            run_once_reports_a_lost_lease
            run_once_heartbeat_keeps_the_lease
            run_once_waits_for_an_in_progress_duplicate
            run_once_runs_a_batch
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __check_names {
    (() $($check:ident)*) => {
        &[$(stringify!($check)),*]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    (($mode:ident) $($check:ident)*) => {$(
        #[test]
        fn $check() {
            $crate::__private::run(async {
                let fixture = $crate::__private::$mode(super::fixture().await);
                let check = $crate::checks::$check(&fixture);
                $crate::__private::check(&fixture, stringify!($check), check).await;
            });
        }
    )*};
}

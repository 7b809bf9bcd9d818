//! The promises of [`Bus`](funcmesh_bus::Bus), written once and run on
//! every backend.
//!
//! A test binary per backend describes its backend (a [`Backend`]) and
//! instantiates the suite with [`contract_suite!`]; the tests here are
//! generic over that description. Each test works in a namespace of its
//! own, so runs never see each other, and cleans it up at the end.
//!
//! - `queues`: declare, publish, consume in order, unknown queues, depth.
//! - `deliveries`: acknowledgements, redelivery, prefetch, competing
//!   consumers, the delivery limit and dead letters.
//! - `limits`: expiry and the length limit.
//! - `replies`: reply queues (request/reply).
//! - `topics`: broadcast and listen.
//! - `tap`: copies of a queue's traffic.
//! - `connection`: a broker that is down, or whose connection is lost.
//! - `stopping`: what a process settled as it exits stays settled (for the
//!   backends whose broker outlives a process).
//!
//! Where the trait leaves room, backends differ, and [`Shape`] says how;
//! a behaviour that belongs to one backend's idiom is tested in that
//! backend's own files, not here. A test a backend is known to fail is a
//! [`Gap`] of that backend: it runs, and must keep failing there.
//!
//! - `backend`: the [`Backend`] description, [`Shape`] and [`Gap`].
//! - `run`: [`Run`], one test's namespace, bus and clean-up.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failure is a failed test

mod backend;
pub mod connection;
pub mod deliveries;
pub mod limits;
pub mod queues;
pub mod replies;
mod run;
pub mod stopping;
pub mod tap;
pub mod topics;

#[allow(unused_imports)] // a backend without known gaps names no `Gap`
pub use backend::{Backend, Gap, Held, LimitElsewhere, Redeclared, Shape, check};
pub use run::Run;

/// The contract's tests for the [`Backend`] `$backend`, in the scope of the
/// invocation. `connection` adds the tests of a bus that talks to a broker
/// (one that is down, a consumer started before the connection), and
/// `reconnect` those of a lost connection.
macro_rules! contract_suite {
    ($backend:ty) => {
        contract_tests!($backend;
            queues:
                publish_consume_ack_in_order,
                a_waiting_consumer_wakes_on_publish,
                undeclared_queues_are_unknown,
                declaring_again_is_harmless_and_other_limits_keep_the_queue,
                another_bus_in_the_namespace_knows_the_queues_and_their_limits,
                depth_counts_ready_and_held_messages;
            deliveries:
                a_dropped_delivery_comes_back_as_attempt_two,
                a_delivery_dropped_with_its_consumer_goes_to_another,
                prefetch_bounds_unacknowledged_deliveries,
                competing_consumers_share_the_work,
                a_consumer_that_joins_gets_nothing_another_holds,
                a_dropped_consumer_gives_back_its_prefetch_and_lets_work_in_hand_finish,
                delivery_limit_dead_letters_after_max_deliveries,
                a_dead_letter_never_expires_and_counts_afresh;
            limits:
                an_expired_message_is_never_delivered_nor_dead_lettered,
                a_full_queue_answers_queue_full,
                a_queue_of_length_zero_takes_nothing,
                a_message_over_the_bus_limit_is_refused_for_good;
            replies:
                a_reply_queue_carries_replies_until_they_expire,
                a_reply_queue_is_empty_once_its_replies_are_taken,
                consumers_of_a_reply_queue_compete;
            topics:
                broadcasts_reach_every_listener_of_their_topic_only;
            tap:
                a_tap_copies_every_message_and_takes_none,
                a_tap_on_an_undeclared_queue_is_unknown,
                a_given_back_message_is_copied_once;
        );
    };
    ($backend:ty, connection) => {
        contract_tests!($backend;
            connection:
                a_consumer_started_before_the_connection_starts_with_it,
                a_broker_that_is_down_does_not_fail_connect_but_publish_fails_fast;
        );
    };
    ($backend:ident, stopping, $processes:expr) => {
        mod stopping {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn what_a_process_acknowledged_as_it_exits_does_not_come_back() {
                use crate::contract::stopping::what_a_process_acknowledged_as_it_exits_does_not_come_back as test;
                test::<super::$backend>($processes).await;
            }

            /// A process of the test above, started by it.
            #[test]
            fn a_stopping_process() {
                crate::contract::stopping::a_stopping_process::<super::$backend>();
            }
        }
    };
    ($backend:ty, reconnect) => {
        contract_tests!($backend;
            connection:
                everything_comes_back_after_the_connection_is_lost;
        );
        /// On a current-thread runtime: the bus's tasks run on the thread
        /// whose default subscriber captures their logs.
        #[tokio::test]
        async fn an_outage_is_logged_once_and_the_recovery_too() {
            use contract::connection::an_outage_is_logged_once_and_the_recovery_too as test;
            test::<$backend>().await;
        }
    };
}

/// One `#[tokio::test]` per named contract test, on two worker threads
/// (the reconnection tests need a second one while a test waits).
macro_rules! contract_tests {
    ($backend:ty; $($module:ident: $($test:ident),+;)+) => {
        $($(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let test = contract::$module::$test::<$backend>();
                contract::check::<$backend>(stringify!($test), test).await;
            }
        )+)+
    };
}

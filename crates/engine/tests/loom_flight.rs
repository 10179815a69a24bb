//! Loom model checks of single flight (`FlightGroup`): under `--cfg loom` the crate builds its
//! mutex, condition variable and `Arc` from loom, so every interleaving of the real code is
//! explored.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p larder-engine --test loom_flight --release`
#![cfg(loom)]

use larder_engine::flight::{FlightError, FlightGroup, Role};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

const KEY: u32 = 7;

/// Explores every interleaving with at most three preemptions (unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise), which keeps each model to seconds.
fn check(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(3);
    builder.check(model);
}

/// How the leader ends its flight.
#[derive(Clone, Copy)]
enum Ending {
    Value,
    Error,
    Drop,
}

/// What one caller got.
#[derive(Debug)]
enum Got {
    /// It led, and published this value (or nothing, when it failed or was dropped).
    Led(Option<u32>),
    /// It followed and observed this.
    Followed(Result<u32, FlightError>),
}

/// Joins the flight for `KEY`. The leader waits until all `callers` have joined before it ends
/// the flight, so that every one of them overlaps with it.
fn caller(
    group: &FlightGroup<u32, u32>,
    joined: &AtomicUsize,
    callers: usize,
    id: u32,
    ending: Ending,
) -> Got {
    match group.join(&KEY) {
        Role::Leader(leader) => {
            joined.fetch_add(1, Ordering::SeqCst);
            while joined.load(Ordering::SeqCst) < callers {
                thread::yield_now();
            }
            match ending {
                Ending::Value => {
                    leader.complete(Ok(100 + id));
                    Got::Led(Some(100 + id))
                }
                Ending::Error => {
                    leader.complete(Err(std::sync::Arc::new("db down")));
                    Got::Led(None)
                }
                Ending::Drop => {
                    drop(leader);
                    Got::Led(None)
                }
            }
        }
        Role::Follower(flight) => {
            joined.fetch_add(1, Ordering::SeqCst);
            Got::Followed(flight.wait(None))
        }
    }
}

/// `callers` threads (the model's main thread and `callers - 1` spawned) join the same key.
fn run(callers: usize, ending: Ending) -> Vec<Got> {
    let group: Arc<FlightGroup<u32, u32>> = Arc::new(FlightGroup::default());
    let joined = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (1..callers as u32)
        .map(|id| {
            let (group, joined) = (group.clone(), joined.clone());
            thread::spawn(move || caller(&group, &joined, callers, id, ending))
        })
        .collect();
    let mut got = vec![caller(&group, &joined, callers, 0, ending)];
    got.extend(
        handles
            .into_iter()
            .map(|h| h.join().expect("caller panicked")),
    );
    assert_eq!(group.in_flight(), 0, "a finished flight leaves the group");
    got
}

fn leaders(got: &[Got]) -> Vec<Option<u32>> {
    got.iter()
        .filter_map(|g| match g {
            Got::Led(v) => Some(*v),
            Got::Followed(_) => None,
        })
        .collect()
}

#[test]
fn one_leader_and_every_follower_observes_its_value() {
    for callers in [2, 3] {
        check(move || {
            let got = run(callers, Ending::Value);
            let leaders = leaders(&got);
            assert_eq!(leaders.len(), 1, "exactly one leader: {got:?}");
            let value = leaders[0].unwrap();
            for g in &got {
                if let Got::Followed(outcome) = g {
                    assert!(
                        matches!(outcome, Ok(v) if *v == value),
                        "follower saw {outcome:?}, leader published {value}"
                    );
                }
            }
        });
    }
}

#[test]
fn followers_observe_the_leaders_error() {
    check(|| {
        let got = run(3, Ending::Error);
        assert_eq!(leaders(&got).len(), 1, "{got:?}");
        for g in &got {
            if let Got::Followed(outcome) = g {
                match outcome {
                    Err(FlightError::Failed(e)) => {
                        assert_eq!(e.downcast_ref::<&str>(), Some(&"db down"));
                    }
                    other => panic!("expected the leader's error, got {other:?}"),
                }
            }
        }
    });
}

#[test]
fn a_dropped_leader_abandons_its_followers() {
    for callers in [2, 3] {
        check(move || {
            let got = run(callers, Ending::Drop);
            assert_eq!(leaders(&got).len(), 1, "{got:?}");
            for g in &got {
                if let Got::Followed(outcome) = g {
                    assert!(
                        matches!(outcome, Err(FlightError::Abandoned)),
                        "expected Abandoned, got {outcome:?}"
                    );
                }
            }
        });
    }
}

/// Without the handoff, a caller may arrive after the flight closed and lead a fresh one; still,
/// no caller waits forever (loom reports a deadlock otherwise), every follower observes the value
/// of a flight that was led, and the group ends empty.
#[test]
fn racing_callers_never_lose_a_wakeup() {
    check(|| {
        let group: Arc<FlightGroup<u32, u32>> = Arc::new(FlightGroup::default());
        let spawned: Vec<_> = (1..3u32)
            .map(|id| {
                let group = group.clone();
                thread::spawn(move || match group.join(&KEY) {
                    Role::Leader(leader) => {
                        leader.complete(Ok(id));
                        Got::Led(Some(id))
                    }
                    Role::Follower(flight) => Got::Followed(flight.wait(None)),
                })
            })
            .collect();
        let mine = match group.join(&KEY) {
            Role::Leader(leader) => {
                leader.complete(Ok(0));
                Got::Led(Some(0))
            }
            Role::Follower(flight) => Got::Followed(flight.wait(None)),
        };
        let mut got = vec![mine];
        got.extend(spawned.into_iter().map(|h| h.join().unwrap()));
        let leaders = leaders(&got);
        assert!(!leaders.is_empty(), "{got:?}");
        for g in &got {
            if let Got::Followed(outcome) = g {
                match outcome {
                    Ok(v) => assert!(leaders.contains(&Some(*v)), "{got:?}"),
                    Err(e) => panic!("a follower got {e:?}: {got:?}"),
                }
            }
        }
        assert_eq!(group.in_flight(), 0);
    });
}

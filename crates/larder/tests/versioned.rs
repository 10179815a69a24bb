//! Versioned keys: a current version per entity, an atomic switch, old versions expiring alone.

use larder::versioned::{VersionError, VersionKey, Versioned};
use larder_engine::ManualClock;
use std::sync::Arc;
use std::time::Duration;

fn versioned(clock: &Arc<ManualClock>) -> Versioned<String, String> {
    // Room for every version the tests publish: none is evicted, only expired.
    let values = larder::Cache::builder()
        .max_capacity(1_000)
        .clock(clock.clone())
        .build();
    Versioned::with_clock(values, 100, Duration::from_secs(30), clock.clone())
}

#[test]
fn publishing_switches_the_current_version_and_old_versions_expire_by_themselves() {
    let clock = Arc::new(ManualClock::new(0));
    let v = versioned(&clock);
    let v1 = v.publish("config".into(), "a".into()).unwrap();
    assert_eq!(v.get(&"config".into()), Some((v1, "a".into())));
    let v2 = v.publish("config".into(), "b".into()).unwrap();
    assert!(v2 > v1);
    assert_eq!(v.get(&"config".into()), Some((v2, "b".into())));
    // A reader that resolved v1 just before the switch still reads it during the grace period.
    assert_eq!(v.get_version(&"config".into(), v1), Some("a".into()));
    let key = VersionKey {
        entity: "config".to_string(),
        version: v1,
    };
    let entry = v.values().get_entry(&key).expect("v1 is cached");
    assert_eq!(entry.expires_at, Some(30_000));
    clock.advance(Duration::from_secs(30));
    assert_eq!(v.get_version(&"config".into(), v1), None);
    // The current version carries no TTL and stays.
    assert_eq!(v.get(&"config".into()), Some((v2, "b".into())));
}

#[test]
fn database_versions_never_move_the_pointer_backwards() {
    let clock = Arc::new(ManualClock::new(0));
    let v = versioned(&clock);
    v.publish_version("post:1".into(), 42, "rev42".into())
        .unwrap();
    assert_eq!(
        v.publish_version("post:1".into(), 41, "rev41".into()),
        Err(VersionError::NotNewer {
            version: 41,
            current: 42
        })
    );
    assert_eq!(v.get_version(&"post:1".into(), 41), None);
    assert_eq!(v.get(&"post:1".into()), Some((42, "rev42".into())));
    // The table's own counter stays above database versions.
    assert!(v.publish("post:1".into(), "next".into()).unwrap() > 42);
}

#[test]
fn switching_back_to_a_cached_version_is_a_rollback() {
    let clock = Arc::new(ManualClock::new(0));
    let v = versioned(&clock);
    let v1 = v.publish("page".into(), "old".into()).unwrap();
    let v2 = v.publish("page".into(), "broken".into()).unwrap();
    v.switch_to("page".into(), v1).unwrap();
    assert_eq!(v.get(&"page".into()), Some((v1, "old".into())));
    // The rolled-back-to version no longer expires; the abandoned one does.
    clock.advance(Duration::from_secs(30));
    assert_eq!(v.get(&"page".into()), Some((v1, "old".into())));
    assert_eq!(v.get_version(&"page".into(), v2), None);
    assert_eq!(v.switch_to("page".into(), v2), Err(VersionError::Gone(v2)));
}

#[test]
fn concurrent_readers_see_a_whole_version_never_a_mix() {
    let clock = Arc::new(ManualClock::new(0));
    let v = versioned(&clock);
    v.publish("e".into(), "0:0".into()).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..500 {
                v.publish("e".into(), format!("{i}:{i}")).unwrap();
            }
        });
        s.spawn(|| {
            for _ in 0..2_000 {
                let (_, value) = v
                    .get(&"e".into())
                    .expect("a current version is always cached");
                let (a, b) = value.split_once(':').unwrap();
                assert_eq!(a, b);
            }
        });
    });
}

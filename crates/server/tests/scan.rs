//! SCAN's guarantee over a real socket: a key present for the whole iteration is returned
//! (at least once), while another client inserts and deletes heavily, growing the table and
//! reusing the slots it frees.

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::{Client, start, within};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One SCAN call: the next cursor and the keys.
async fn scan_page(c: &mut Client, cursor: &str, count: &str) -> (String, Vec<String>) {
    let Frame::Array(parts) = c.call_str(&["SCAN", cursor, "COUNT", count]).await else {
        panic!("SCAN answers an array");
    };
    let [Frame::Bulk(next), Frame::Array(keys)] = parts.as_slice() else {
        panic!("SCAN answers a cursor and keys: {parts:?}");
    };
    let keys = keys
        .iter()
        .map(|k| match k {
            Frame::Bulk(k) => String::from_utf8_lossy(k).into_owned(),
            other => panic!("a key: {other:?}"),
        })
        .collect();
    (String::from_utf8_lossy(next).into_owned(), keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn scan_returns_every_key_present_throughout_despite_heavy_writes() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        for chunk in (0..5_000).collect::<Vec<u32>>().chunks(500) {
            let mut args = vec!["MSET".to_owned()];
            for i in chunk {
                args.push(format!("stable:{i}"));
                args.push("v".to_owned());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            c.call_str(&args).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let addr = server.addr;
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut c = Client::connect(addr).await;
                    let mut i = 0u64;
                    let mut writes = 0u64;
                    while !stop.load(Ordering::Relaxed) || writes < 2_000 {
                        // Insert a new key, delete one inserted long ago: the table keeps
                        // growing into new slots and reusing freed ones.
                        c.call_str(&["SET", &format!("churn:{w}:{i}"), "x"]).await;
                        if i >= 500 {
                            c.call_str(&["DEL", &format!("churn:{w}:{}", i - 500)])
                                .await;
                        }
                        i += 1;
                        writes += 1;
                    }
                    writes
                })
            })
            .collect();
        let mut seen = HashSet::new();
        let mut cursor = "0".to_owned();
        let mut pages = 0;
        loop {
            let (next, keys) = scan_page(&mut c, &cursor, "50").await;
            seen.extend(keys);
            pages += 1;
            // Let the writers get ahead between pages.
            tokio::task::yield_now().await;
            if next == "0" {
                break;
            }
            cursor = next;
        }
        stop.store(true, Ordering::Relaxed);
        let mut writes = 0;
        for w in writers {
            writes += w.await.expect("writer");
        }
        let missing: Vec<u32> = (0..5_000)
            .filter(|i| !seen.contains(&format!("stable:{i}")))
            .collect();
        assert!(
            missing.is_empty(),
            "{} stable keys never returned",
            missing.len()
        );
        assert!(
            pages > 10 && writes >= 4_000,
            "{pages} pages, {writes} writes"
        );
    })
    .await;
}

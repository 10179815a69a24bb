//! Feeds arbitrary bytes to `parse_command` and to a `Batch`, under Redis's default limits and
//! under small ones that short inputs can exceed, and checks what they accept.
#![no_main]

use larder_protocol::{BATCH_ARGS_MAX, Batch, Limits, encode_command, parse_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let small = Limits {
        max_bulk_len: 64,
        max_inline_len: 128,
        max_multibulk_len: 16,
        unauthenticated: data.first().is_some_and(|b| b & 1 == 1),
    };
    for limits in [Limits::default(), small] {
        check(data, &limits);
    }
});

fn check(data: &[u8], limits: &Limits) {
    let mut batch = Batch::new();
    let held = batch.parse(data, limits, 32);
    let mut buf = data.to_vec();
    let Ok(Some((cmd, consumed))) = parse_command(&mut buf, limits) else {
        assert_eq!(held, 0, "a batch holds a request parse_command refuses");
        return;
    };
    assert!(
        consumed > 0 && consumed <= data.len(),
        "consumed {consumed} of {}",
        data.len()
    );
    let args: Vec<Vec<u8>> = cmd.args().iter().map(|a| a.to_vec()).collect();
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut encoded = Vec::new();
    encode_command(&mut encoded, &refs);
    // A non-empty multibulk request is accepted only in its canonical form.
    if data[0] == b'*' && !args.is_empty() {
        assert_eq!(encoded, &data[..consumed]);
    }
    // A batch's first request is the one parse_command accepts, unless it is inline or over
    // the batch's bound.
    if held > 0 {
        let first: Vec<&[u8]> = batch.args(0).iter().map(|r| &data[r.clone()]).collect();
        assert_eq!(first, refs);
        assert_eq!(batch.end(0), consumed);
    } else {
        assert!(data[0] != b'*' || args.len() > BATCH_ARGS_MAX);
    }
    // Re-encoding the arguments parses back to the same arguments, under default limits.
    let mut copy = encoded.clone();
    let (again, len) = parse_command(&mut copy, &Limits::default())
        .expect("re-encoded arguments parse")
        .expect("re-encoded arguments are complete");
    assert_eq!(len, encoded.len());
    assert_eq!(again.args(), refs.as_slice());
}

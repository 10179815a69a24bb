//! Feeds arbitrary bytes to `parse_frame` and checks what it accepts.
#![no_main]

use larder_protocol::{Version, encode_frame, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Some((frame, consumed))) = parse_frame(data) else {
        return;
    };
    assert!(
        consumed > 0 && consumed <= data.len(),
        "consumed {consumed} of {}",
        data.len()
    );
    // Encoding is a fixed point after one round: encode, parse, encode gives the same bytes
    // (a frame itself may not compare equal to its parse, as NaN shows).
    for version in [Version::Resp3, Version::Resp2] {
        let mut first = Vec::new();
        encode_frame(&mut first, &frame, version);
        let (again, len) = parse_frame(&first)
            .expect("an encoded frame parses")
            .expect("an encoded frame is complete");
        assert_eq!(len, first.len());
        let mut second = Vec::new();
        encode_frame(&mut second, &again, version);
        assert_eq!(first, second);
    }
});

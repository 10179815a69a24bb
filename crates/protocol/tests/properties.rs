//! Property tests: round trips through the encoders and parsers, and arbitrary bytes, whole or
//! as edits of valid input, never make a parser panic or claim more than it was given.

use larder_protocol::{
    BATCH_ARGS_MAX, Batch, Frame, FrameScanner, Limits, Version, encode_command, encode_frame,
    parse_command, parse_frame,
};
use proptest::prelude::*;

fn args_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..12)
}

fn encoded(args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut out = Vec::new();
    encode_command(&mut out, &refs);
    out
}

/// Bytes with no CR or LF, as simple strings and errors carry.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..16,
    )
}

/// Any frame that survives a RESP3 round trip unchanged: no NaN (it equals nothing), no
/// `NullArray` (RESP3 writes it as `_`), no CR or LF in line types.
fn frame_strategy() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        line_bytes().prop_map(Frame::Simple),
        line_bytes().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(Frame::Bulk),
        Just(Frame::Null),
        any::<f64>()
            .prop_filter("NaN equals nothing", |d| !d.is_nan())
            .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        (any::<[u8; 3]>(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(format, text)| Frame::Verbatim { format, text }),
        "-?[0-9]{1,40}".prop_map(|digits| Frame::BigNumber(digits.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(Frame::BulkError),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let items = prop::collection::vec(inner.clone(), 0..6);
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            items.clone().prop_map(Frame::Array),
            items.clone().prop_map(Frame::Set),
            items.prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, value)| Frame::Attribute {
                attributes,
                value: Box::new(value),
            }),
        ]
    })
}

/// Limits small enough for short random inputs to reach every bound.
fn small_limits() -> Limits {
    Limits {
        max_bulk_len: 16,
        max_inline_len: 24,
        max_multibulk_len: 8,
        unauthenticated: false,
    }
}

/// Whatever `parse_command` makes of `input`, it does not panic, and what it accepts is
/// consistent: it consumed something within the input, and a non-empty multibulk request is
/// exactly the canonical encoding of its arguments. A [`Batch`], the server's way of walking a
/// pipeline once, holds exactly the requests that `parse_command` accepts one after another
/// from the start, up to the first that is not multibulk (or not complete, or not valid) and
/// within its bounds, with the same arguments and lengths.
fn check_command(input: &[u8], limits: &Limits) {
    const MAX: usize = 32;
    let mut batch = Batch::new();
    let found = batch.parse(input, limits, MAX);
    let mut buf = input.to_vec();
    let (mut at, mut expected, mut args_total) = (0, 0, 0);
    while let Ok(Some((cmd, consumed))) = parse_command(&mut buf[at..], limits) {
        assert!(consumed > 0 && at + consumed <= input.len());
        if input[at] != b'*' {
            break;
        }
        let args: Vec<Vec<u8>> = cmd.args().iter().map(|a| a.to_vec()).collect();
        if !args.is_empty() {
            assert_eq!(encoded(&args), &input[at..at + consumed]);
        }
        args_total += args.len();
        if expected == MAX || args_total > BATCH_ARGS_MAX {
            break;
        }
        assert!(
            expected < found,
            "the batch stopped before request {expected}"
        );
        let held: Vec<Vec<u8>> = batch
            .args(expected)
            .iter()
            .map(|r| input[r.clone()].to_vec())
            .collect();
        assert_eq!(held, args);
        assert_eq!(batch.end(expected), at + consumed);
        expected += 1;
        at += consumed;
    }
    assert_eq!(found, expected);
}

/// Whatever `parse_frame` makes of `input`, it does not panic, consumes within the input, and
/// a frame it accepts encodes to bytes that parse to a frame encoding the same way.
fn check_frame(input: &[u8]) {
    if let Ok(Some((frame, consumed))) = parse_frame(input) {
        assert!(consumed > 0 && consumed <= input.len());
        let mut first = Vec::new();
        encode_frame(&mut first, &frame, Version::Resp3);
        let (again, len) = parse_frame(&first)
            .expect("a frame we encoded parses")
            .expect("a frame we encoded is complete");
        assert_eq!(len, first.len());
        let mut second = Vec::new();
        encode_frame(&mut second, &again, Version::Resp3);
        assert_eq!(first, second);
    }
}

/// One scanner fed `input` in growing prefixes (ending at `cuts`, taken modulo the length, then
/// at the whole input) answers at every prefix what `parse_frame` answers on it: incomplete, the
/// same frame and length, or the same error. Frames are compared by their encoding, which also
/// holds for a NaN double.
fn check_scanner(input: &[u8], cuts: &[usize]) {
    let encoded = |parsed: Result<Option<(Frame, usize)>, _>| {
        parsed.map(|found| {
            found.map(|(frame, len)| {
                let mut out = Vec::new();
                encode_frame(&mut out, &frame, Version::Resp3);
                (out, len)
            })
        })
    };
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    ends.push(input.len());
    ends.sort_unstable();
    let mut scanner = FrameScanner::new();
    for end in ends {
        let expected = encoded(parse_frame(&input[..end]));
        let scanned = encoded(scanner.next_frame(&input[..end]));
        assert_eq!(
            scanned,
            expected,
            "prefix of {end} of {} bytes",
            input.len()
        );
        if scanned != Ok(None) {
            return;
        }
    }
}

/// Applies byte edits (position, new byte or deletion) to `input`.
fn edit(mut input: Vec<u8>, edits: &[(usize, Option<u8>)]) -> Vec<u8> {
    for &(at, byte) in edits {
        if input.is_empty() {
            break;
        }
        let at = at % input.len();
        match byte {
            Some(b) => input[at] = b,
            None => {
                input.remove(at);
            }
        }
    }
    input
}

fn edits() -> impl Strategy<Value = Vec<(usize, Option<u8>)>> {
    prop::collection::vec((any::<usize>(), prop::option::of(any::<u8>())), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn commands_round_trip(args in args_strategy()) {
        let mut buf = encoded(&args);
        let len = buf.len();
        let (cmd, consumed) = parse_command(&mut buf, &Limits::default()).unwrap().unwrap();
        let parsed: Vec<Vec<u8>> = cmd.args().iter().map(|a| a.to_vec()).collect();
        prop_assert_eq!(parsed, args);
        prop_assert_eq!(consumed, len);
    }

    #[test]
    fn pipelined_commands_round_trip(
        first in args_strategy(),
        second in args_strategy(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = encoded(&first);
        let first_len = buf.len();
        buf.extend_from_slice(&encoded(&second));
        let (cmd, consumed) = parse_command(&mut buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(cmd.len(), first.len());
        prop_assert_eq!(consumed, first_len);
        drop(cmd);
        // A batch walks both at once.
        let mut batch = Batch::new();
        prop_assert_eq!(batch.parse(&buf, &Limits::default(), 32), 2);
        let held: Vec<&[u8]> = batch.args(1).iter().map(|r| &buf[r.clone()]).collect();
        let sent: Vec<&[u8]> = second.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(held, sent);
        prop_assert_eq!((batch.end(0), batch.end(1)), (first_len, buf.len()));
        prop_assert_eq!(batch.parse(&buf, &Limits::default(), 1), 1);
        // A strict prefix of the first request is incomplete.
        let cut = cut.index(first_len);
        prop_assert_eq!(batch.parse(&buf[..cut], &Limits::default(), 32), 0);
        prop_assert_eq!(parse_command(&mut buf[..cut], &Limits::default()), Ok(None));
    }

    #[test]
    fn frames_round_trip(frame in frame_strategy()) {
        let mut out = Vec::new();
        encode_frame(&mut out, &frame, Version::Resp3);
        prop_assert_eq!(parse_frame(&out), Ok(Some((frame, out.len()))));
    }

    #[test]
    fn resp2_frames_parse(frame in frame_strategy()) {
        let mut out = Vec::new();
        encode_frame(&mut out, &frame, Version::Resp2);
        let parsed = parse_frame(&out).unwrap();
        prop_assert_eq!(parsed.map(|(_, n)| n), Some(out.len()));
    }

    #[test]
    fn scanner_agrees_with_parser_on_frames(
        frame in frame_strategy(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut out = Vec::new();
        encode_frame(&mut out, &frame, Version::Resp3);
        check_scanner(&out, &cuts);
    }

    #[test]
    fn scanner_agrees_with_parser_on_edited_frames(
        frame in frame_strategy(),
        edits in edits(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut out = Vec::new();
        encode_frame(&mut out, &frame, Version::Resp3);
        check_scanner(&edit(out, &edits), &cuts);
    }

    #[test]
    fn scanner_agrees_with_parser_on_arbitrary_bytes(
        input in prop::collection::vec(any::<u8>(), 0..256),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        check_scanner(&input, &cuts);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..256)) {
        check_command(&input, &Limits::default());
        check_command(&input, &small_limits());
        check_frame(&input);
    }

    #[test]
    fn edited_commands_never_panic(args in args_strategy(), edits in edits()) {
        let input = edit(encoded(&args), &edits);
        check_command(&input, &Limits::default());
        check_command(&input, &small_limits());
        check_frame(&input);
    }

    #[test]
    fn edited_frames_never_panic(frame in frame_strategy(), edits in edits()) {
        let mut out = Vec::new();
        encode_frame(&mut out, &frame, Version::Resp3);
        let input = edit(out, &edits);
        check_frame(&input);
        check_command(&input, &small_limits());
    }

    #[test]
    fn inline_lines_never_panic(line in "[a-z \"'\\\\x0-9\t\r]{0,40}\n?") {
        check_command(line.as_bytes(), &Limits::default());
        check_command(line.as_bytes(), &small_limits());
    }
}

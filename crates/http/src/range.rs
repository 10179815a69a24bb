//! Single byte ranges (RFC 9110 §14.1.2) served from a complete stored response.

/// The inclusive `(first, last)` byte positions of a single-range `Range` value over a body of
/// `len` bytes, or `None` when it is not one satisfiable byte range (then the whole body is
/// served, which RFC 9110 §14.2 allows: "A server MAY ignore the Range header field").
pub fn single(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix range: the last N bytes.
        let n: u64 = last.parse().ok()?;
        if n == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), len - 1));
    }
    let first: u64 = first.parse().ok()?;
    if first >= len {
        return None;
    }
    let last = if last.is_empty() {
        len - 1
    } else {
        last.parse::<u64>().ok()?.min(len - 1)
    };
    (first <= last).then_some((first, last))
}

#[cfg(test)]
mod tests {
    use super::single;

    #[test]
    fn ranges() {
        assert_eq!(single("bytes=0-1", 10), Some((0, 1)));
        assert_eq!(single("bytes=5-", 10), Some((5, 9)));
        assert_eq!(single("bytes=-3", 10), Some((7, 9)));
        assert_eq!(single("bytes=0-99", 10), Some((0, 9)));
        assert_eq!(single("bytes=10-", 10), None);
        assert_eq!(single("bytes=0-1,3-4", 10), None);
        assert_eq!(single("items=0-1", 10), None);
    }
}

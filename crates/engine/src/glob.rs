//! Glob patterns over keys and names, with Redis's syntax: `*`, `?`, `[abc]`, `[^abc]`,
//! `[a-z]` and `\` escapes, matched byte by byte. One matcher for every face: the server's
//! `KEYS`, `SCAN MATCH`, `PSUBSCRIBE` and `CONFIG GET`, and the proxy's cache-key rules and
//! purge patterns.
//!
//! Backtracking is bounded: the matcher remembers only the last `*`, so it runs in
//! O(pattern × text) at worst, whatever the pattern (Redis's recursive matcher can take
//! exponential time on patterns such as `a*a*a*a*b`; this one cannot).

/// Whether `text` matches `pattern`; `nocase` folds ASCII case.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index it matched to).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(pattern, p, text[t], nocase)
                        && matched
                    {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if same(pattern[p + 1], text[t], nocase) {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if same(c, text[t], nocase) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    a == b || (nocase && a.eq_ignore_ascii_case(&b))
}

/// Matches `c` against the class starting at `pattern[open] == b'['`: (matched, index after
/// the class). An unterminated class runs to the end of the pattern, as in Redis.
fn class(pattern: &[u8], open: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let mut i = open + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            matched |= same(pattern[i + 1], c, nocase);
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (mut lo, mut hi) = (pattern[i], pattern[i + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let (lc, lo_l, hi_l) = if nocase {
                (
                    c.to_ascii_lowercase(),
                    lo.to_ascii_lowercase(),
                    hi.to_ascii_lowercase(),
                )
            } else {
                (c, lo, hi)
            };
            matched |= (lo..=hi).contains(&c) || (lo_l..=hi_l).contains(&lc);
            i += 3;
        } else {
            matched |= same(pattern[i], c, nocase);
            i += 1;
        }
    }
    // Skip the closing bracket if there is one.
    let next = if i < pattern.len() { i + 1 } else { i };
    Some((matched != negate, next))
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, t: &str) -> bool {
        matches(p.as_bytes(), t.as_bytes(), false)
    }

    #[test]
    fn globs_match_like_redis() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges work as in Redis");
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("foo*bar*", "foo_x_bar_y"));
        assert!(!m("a*b", "aaaa"));
        assert!(m("key:*", "key:1"));
        assert!(!m("key:*", "ke"));
        assert!(matches(b"HELLO", b"hello", true));
        assert!(!m("a*a*a*a*a*a*a*a*a*b", &"a".repeat(60)));
    }
}

//! Numeric IPv4 and IPv6 text, exactly as glibc's `inet_pton` and
//! `inet_ntop` (`resolv/inet_pton.c`, `resolv/inet_ntop.c`) read and write
//! it: CPython's `setipaddr` and `makesockaddr` call those two functions.
//!
//! Rust's `Ipv4Addr`/`Ipv6Addr` parsers and `Display` differ from glibc in
//! places (`::1.2.3.4` is printed `::102:304` by Rust; `1::2:3:4:5:6:7:8`
//! is accepted by Rust), so the C code is ported here statement by
//! statement.

/// glibc `inet_pton4`: four decimal octets, no leading zeros, nothing else.
pub fn pton4(src: &[u8]) -> Option<[u8; 4]> {
    let mut tmp = [0u8; 4];
    let mut tp = 0usize;
    let mut saw_digit = false;
    let mut octets = 0;
    for &ch in src {
        if ch.is_ascii_digit() {
            let new = u32::from(tmp[tp]) * 10 + u32::from(ch - b'0');
            if saw_digit && tmp[tp] == 0 {
                return None;
            }
            if new > 255 {
                return None;
            }
            tmp[tp] = new as u8;
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if ch == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            tp += 1;
            tmp[tp] = 0;
            saw_digit = false;
        } else {
            return None;
        }
    }
    if octets < 4 {
        return None;
    }
    Some(tmp)
}

fn hex_digit_value(ch: u8) -> Option<u32> {
    char::from(ch).to_digit(16)
}

/// glibc `inet_pton6` (the 2.26+ rewrite): eight groups of at most four hex
/// digits, one `::`, an optional trailing dotted IPv4 part. No zone id.
pub fn pton6(src: &[u8]) -> Option<[u16; 8]> {
    let mut tmp = [0u8; 16];
    let endp = tmp.len();
    let mut tp = 0usize;
    let mut colonp: Option<usize> = None;

    let mut pos = 0usize;
    // Leading :: requires some special handling.
    let first = *src.first()?;
    if first == b':' {
        pos += 1;
        if src.get(pos) != Some(&b':') {
            return None;
        }
    }

    let mut curtok = pos;
    let mut xdigits_seen = 0usize;
    let mut val: u32 = 0;
    while pos < src.len() {
        let ch = src[pos];
        pos += 1;
        if let Some(digit) = hex_digit_value(ch) {
            if xdigits_seen == 4 {
                return None;
            }
            val = (val << 4) | digit;
            if val > 0xffff {
                return None;
            }
            xdigits_seen += 1;
            continue;
        }
        if ch == b':' {
            curtok = pos;
            if xdigits_seen == 0 {
                if colonp.is_some() {
                    return None;
                }
                colonp = Some(tp);
                continue;
            } else if pos == src.len() {
                return None;
            }
            if tp + 2 > endp {
                return None;
            }
            tmp[tp] = (val >> 8) as u8;
            tmp[tp + 1] = val as u8;
            tp += 2;
            xdigits_seen = 0;
            val = 0;
            continue;
        }
        if ch == b'.'
            && tp + 4 <= endp
            && let Some(v4) = src.get(curtok..).and_then(pton4)
        {
            tmp[tp..tp + 4].copy_from_slice(&v4);
            tp += 4;
            xdigits_seen = 0;
            break; // inet_pton4 consumed the rest.
        }
        return None;
    }
    if xdigits_seen > 0 {
        if tp + 2 > endp {
            return None;
        }
        tmp[tp] = (val >> 8) as u8;
        tmp[tp + 1] = val as u8;
        tp += 2;
    }
    if let Some(colonp) = colonp {
        // Replace :: with zeros.
        if tp == endp {
            // :: would expand to a zero-width field.
            return None;
        }
        let n = tp - colonp;
        tmp.copy_within(colonp..tp, endp - n);
        tmp[colonp..endp - n].fill(0);
        tp = endp;
    }
    if tp != endp {
        return None;
    }
    let mut words = [0u16; 8];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u16::from_be_bytes([tmp[2 * i], tmp[2 * i + 1]]);
    }
    Some(words)
}

/// glibc `inet_ntop4`: `a.b.c.d`.
pub fn ntop4(a: [u8; 4]) -> String {
    // By hand: `format!` was a tenth of a `getsockname` call.
    let mut s = String::with_capacity(15);
    for (i, b) in a.into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if b >= 100 {
            s.push(char::from(b'0' + b / 100));
        }
        if b >= 10 {
            s.push(char::from(b'0' + b / 10 % 10));
        }
        s.push(char::from(b'0' + b % 10));
    }
    s
}

/// glibc `inet_ntop6`: the longest run (the first on a tie) of two or more
/// zero groups becomes `::`, lower-case hex, and the last 32 bits in dotted
/// form for `::a.b.c.d` (six zero groups first) and `::ffff:a.b.c.d`.
pub fn ntop6(words: [u16; 8]) -> String {
    #[derive(Clone, Copy)]
    struct Run {
        base: Option<usize>,
        len: usize,
    }
    let mut best = Run { base: None, len: 0 };
    let mut cur = Run { base: None, len: 0 };
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            if cur.base.is_none() {
                cur = Run {
                    base: Some(i),
                    len: 1,
                };
            } else {
                cur.len += 1;
            }
        } else if cur.base.is_some() {
            if best.base.is_none() || cur.len > best.len {
                best = cur;
            }
            cur.base = None;
        }
    }
    if cur.base.is_some() && (best.base.is_none() || cur.len > best.len) {
        best = cur;
    }
    if best.base.is_some() && best.len < 2 {
        best.base = None;
    }

    let mut out = String::with_capacity(46);
    for (i, &w) in words.iter().enumerate() {
        // Are we inside the best run of 0x00's?
        if let Some(base) = best.base
            && i >= base
            && i < base + best.len
        {
            if i == base {
                out.push(':');
            }
            continue;
        }
        // Are we following an initial run of 0x00s or any real hex?
        if i != 0 {
            out.push(':');
        }
        // Is this address an encapsulated IPv4?
        if i == 6
            && best.base == Some(0)
            && (best.len == 6 || (best.len == 5 && words[5] == 0xffff))
        {
            let [a, b] = words[6].to_be_bytes();
            let [c, d] = words[7].to_be_bytes();
            out.push_str(&ntop4([a, b, c, d]));
            return out;
        }
        out.push_str(&format!("{w:x}"));
    }
    // Was it a trailing run of 0x00's?
    if let Some(base) = best.base
        && base + best.len == words.len()
    {
        out.push(':');
    }
    out
}

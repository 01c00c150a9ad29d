//! CPython 3.11's `"idna"` codec (`Lib/encodings/idna.py`: IDNA 2003,
//! RFC 3490 ToASCII with RFC 3491 nameprep, and `Lib/encodings/punycode.py`),
//! which `idna_converter` applies to a host name that is not pure ASCII.
//!
//! The codec's data is CPython's own (see `tools/gen_idna_tables.py`):
//! `str.lower()` of Unicode 14.0 inside the B.2 mapping, and
//! `unicodedata.ucd_3_2_0.normalize("NFKC")`, which decomposes with
//! Unicode 3.2.0 data but reorders and composes with the current tables
//! (`Modules/unicodedata.c`, `nfd_nfkd` and `nfc_nfkc`, ported below).

use super::idna_tables::{
    CCC, COMPOSE, L_CAT, MAX_CANONICAL_DECOMPOSITION, NAMEPREP_MAP, NFKD_3_2, PROHIBITED, RAND_AL,
};

/// `name.encode("idna")`, or `None` where the codec raises (any failure:
/// CPython's `idna_converter` turns every one into the same `TypeError`).
pub fn encode(name: &str) -> Option<Vec<u8>> {
    if name.is_empty() {
        return Some(Vec::new());
    }
    if name.is_ascii() {
        // ASCII name: fast path.
        let labels: Vec<&[u8]> = name.as_bytes().split(|&b| b == b'.').collect();
        let (last, init) = labels.split_last()?;
        if init.iter().any(|l| l.is_empty() || l.len() >= 64) || last.len() >= 64 {
            return None;
        }
        return Some(name.as_bytes().to_vec());
    }
    // IDNA section 3.1: U+002E, U+3002, U+FF0E and U+FF61 separate labels.
    let mut labels: Vec<&str> = name
        .split(['\u{2e}', '\u{3002}', '\u{ff0e}', '\u{ff61}'])
        .collect();
    let trailing_dot = labels.last().is_some_and(|l| l.is_empty());
    if trailing_dot {
        labels.pop();
    }
    let mut result = Vec::new();
    for label in labels {
        if !result.is_empty() {
            result.push(b'.');
        }
        result.extend(to_ascii(label)?);
    }
    if trailing_dot {
        result.push(b'.');
    }
    Some(result)
}

/// ToASCII with `AllowUnassigned` and without `UseSTD3ASCIIRules`.
fn to_ascii(label: &str) -> Option<Vec<u8>> {
    // Step 1: try ASCII.
    if label.is_ascii() {
        return checked_len(label.as_bytes().to_vec());
    }
    // Step 2: nameprep.
    let label = nameprep(label)?;
    // Step 4: try ASCII.
    if label.iter().all(|&c| c < 0x80) {
        return checked_len(label.iter().map(|&c| c as u8).collect());
    }
    // Step 5: check the ACE prefix.
    if label.starts_with(&[0x78, 0x6e, 0x2d, 0x2d]) {
        return None;
    }
    // Steps 6 to 8: punycode, the prefix, and the size.
    let mut out = b"xn--".to_vec();
    out.extend(punycode(&label)?);
    checked_len(out)
}

fn checked_len(label: Vec<u8>) -> Option<Vec<u8>> {
    (!label.is_empty() && label.len() < 64).then_some(label)
}

fn in_ranges(ranges: &[(u32, u32)], c: u32) -> bool {
    let i = ranges.partition_point(|&(_, last)| last < c);
    ranges.get(i).is_some_and(|&(first, _)| first <= c)
}

fn lookup<'a>(table: &[(u32, &'a str)], c: u32) -> Option<&'a str> {
    table
        .binary_search_by_key(&c, |&(k, _)| k)
        .ok()
        .and_then(|i| table.get(i))
        .map(|&(_, s)| s)
}

/// RFC 3491 nameprep as `encodings.idna.nameprep` does it: map, NFKC
/// (Unicode 3.2.0), prohibit, check bidi. Unassigned code points are allowed.
fn nameprep(label: &str) -> Option<Vec<u32>> {
    let mut mapped = Vec::with_capacity(label.len());
    for ch in label.chars() {
        match lookup(NAMEPREP_MAP, u32::from(ch)) {
            Some(m) => mapped.extend(m.chars().map(u32::from)),
            None => mapped.push(u32::from(ch)),
        }
    }
    // Every label of 64 characters or more fails ToASCII's size check, and
    // NFKC merges at most MAX_CANONICAL_DECOMPOSITION characters into one:
    // stop before the (quadratic, as in CPython) canonical reordering of a
    // huge label.
    if mapped.len() >= 64 * MAX_CANONICAL_DECOMPOSITION {
        return None;
    }
    let label = nfkc_3_2(&mapped);
    if label.iter().any(|&c| in_ranges(PROHIBITED, c)) {
        return None;
    }
    let rand_al: Vec<bool> = label.iter().map(|&c| in_ranges(RAND_AL, c)).collect();
    if rand_al.iter().any(|&r| r) {
        if label.iter().any(|&c| in_ranges(L_CAT, c)) {
            return None;
        }
        if rand_al.first() != Some(&true) || rand_al.last() != Some(&true) {
            return None;
        }
    }
    Some(label)
}

const S_BASE: u32 = 0xAC00;
const L_BASE: u32 = 0x1100;
const V_BASE: u32 = 0x1161;
const T_BASE: u32 = 0x11A7;
const L_COUNT: u32 = 19;
const V_COUNT: u32 = 21;
const T_COUNT: u32 = 28;
const N_COUNT: u32 = V_COUNT * T_COUNT;
const S_COUNT: u32 = L_COUNT * N_COUNT;

fn combining(c: u32) -> u8 {
    let i = CCC.partition_point(|&(_, last, _)| last < c);
    match CCC.get(i) {
        Some(&(first, _, class)) if first <= c => class,
        _ => 0,
    }
}

fn compose_pair(first: u32, second: u32) -> Option<u32> {
    COMPOSE
        .binary_search_by_key(&(first, second), |&(a, b, _)| (a, b))
        .ok()
        .and_then(|i| COMPOSE.get(i))
        .map(|&(_, _, c)| c)
}

/// `unicodedata.ucd_3_2_0.normalize("NFKC", s)`.
fn nfkc_3_2(input: &[u32]) -> Vec<u32> {
    // nfd_nfkd: decompose.
    let mut d: Vec<u32> = Vec::with_capacity(input.len());
    for &code in input {
        if (S_BASE..S_BASE + S_COUNT).contains(&code) {
            let s_index = code - S_BASE;
            d.push(L_BASE + s_index / N_COUNT);
            d.push(V_BASE + (s_index % N_COUNT) / T_COUNT);
            let t = T_BASE + s_index % T_COUNT;
            if t != T_BASE {
                d.push(t);
            }
        } else if let Some(dec) = lookup(NFKD_3_2, code) {
            d.extend(dec.chars().map(u32::from));
        } else {
            d.push(code);
        }
    }
    if d.is_empty() {
        return d;
    }

    // nfd_nfkd: sort canonically (the same bubble as CPython's).
    let mut prev = combining(d[0]);
    for i in 1..d.len() {
        let cur = combining(d[i]);
        if prev == 0 || cur == 0 || prev <= cur {
            prev = cur;
            continue;
        }
        let mut o = i - 1;
        loop {
            d.swap(o, o + 1);
            if o == 0 {
                break;
            }
            o -= 1;
            prev = combining(d[o]);
            if prev == 0 || prev <= cur {
                break;
            }
        }
        prev = combining(d[i]);
    }

    // nfc_nfkc: compose.
    let len = d.len();
    let mut skipped = vec![false; len];
    let mut output = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        if skipped[i] {
            i += 1;
            continue;
        }
        let code = d[i];
        // Hangul composition (the input is fully decomposed).
        if (L_BASE..L_BASE + L_COUNT).contains(&code)
            && i + 1 < len
            && (V_BASE..V_BASE + V_COUNT).contains(&d[i + 1])
        {
            let mut code = S_BASE + ((code - L_BASE) * V_COUNT + (d[i + 1] - V_BASE)) * T_COUNT;
            i += 2;
            if i < len && T_BASE < d[i] && d[i] < T_BASE + T_COUNT {
                code += d[i] - T_BASE;
                i += 1;
            }
            output.push(code);
            continue;
        }
        let mut base = code;
        let mut i1 = i + 1;
        let mut comb = 0u8;
        while i1 < len {
            let code1 = d[i1];
            let comb1 = combining(code1);
            if comb != 0 {
                if comb1 == 0 {
                    break;
                }
                if comb >= comb1 {
                    // Blocked.
                    i1 += 1;
                    continue;
                }
            }
            match compose_pair(base, code1) {
                Some(composite) => {
                    base = composite;
                    skipped[i1] = true;
                    i1 += 1;
                }
                None => {
                    if comb1 == 0 {
                        break;
                    }
                    comb = comb1;
                    i1 += 1;
                }
            }
        }
        output.push(base);
        i += 1;
    }
    output
}

/// `label.encode("punycode")` (RFC 3492, `Lib/encodings/punycode.py`).
fn punycode(text: &[u32]) -> Option<Vec<u8>> {
    // The output has at least one byte per character, and ToASCII rejects
    // anything of 64 bytes or more with the "xn--" prefix: stop early so the
    // arithmetic below stays small.
    if text.len() >= 60 {
        return None;
    }
    let base: Vec<u8> = text
        .iter()
        .filter(|&&c| c < 0x80)
        .map(|&c| c as u8)
        .collect();
    let mut extended: Vec<u32> = text.iter().copied().filter(|&c| c >= 0x80).collect();
    extended.sort_unstable();
    extended.dedup();

    // 3.2 insertion unsort coding.
    let mut deltas: Vec<i64> = Vec::new();
    let mut oldchar: i64 = 0x80;
    let mut oldindex: i64 = -1;
    for &ch in &extended {
        let curlen = text.iter().filter(|&&c| c < ch).count() as i64;
        let mut delta = (curlen + 1) * (i64::from(ch) - oldchar);
        let mut index: i64 = -1;
        for &c in text {
            if c == ch {
                index += 1;
                delta += index - oldindex;
                deltas.push(delta - 1);
                oldindex = index;
                delta = 0;
            } else if c < ch {
                index += 1;
            }
        }
        oldchar = i64::from(ch);
    }

    // 3.4 bias adaptation and 3.3 generalized variable-length integers.
    const DIGITS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let digit = |n: i64| DIGITS.get(usize::try_from(n).ok()?).copied();
    let mut out = base.clone();
    if !base.is_empty() {
        out.push(b'-');
    }
    let mut bias: i64 = 72;
    for (points, &delta) in deltas.iter().enumerate() {
        let mut n = delta;
        let mut j: i64 = 0;
        loop {
            let t = (36 * (j + 1) - bias).clamp(1, 26);
            if n < t {
                out.push(digit(n)?);
                break;
            }
            out.push(digit(t + (n - t) % (36 - t))?);
            n = (n - t) / (36 - t);
            j += 1;
        }
        bias = adapt(delta, points == 0, base.len() as i64 + points as i64 + 1);
    }
    Some(out)
}

fn adapt(mut delta: i64, first: bool, numchars: i64) -> i64 {
    delta /= if first { 700 } else { 2 };
    delta += delta / numchars;
    let mut divisions = 0;
    while delta > 455 {
        delta /= 35;
        divisions += 36;
    }
    divisions + (36 * delta / (delta + 38))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, name.encode("idna") or None)`, generated with CPython 3.11.7.
    const VECTORS: &[(&str, Option<&[u8]>)] = include!("idna_vectors.rs");

    #[test]
    fn matches_cpython() {
        let mut failures = Vec::new();
        for &(name, expected) in VECTORS {
            let got = encode(name);
            if got.as_deref() != expected {
                failures.push(format!("{name:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn huge_labels_fail_fast() {
        let start = std::time::Instant::now();
        let marks: String = std::iter::once('a')
            .chain((0..1_000_000).map(|k| if k % 2 == 0 { '\u{301}' } else { '\u{316}' }))
            .collect();
        assert_eq!(encode(&marks), None);
        let hyphens: String = std::iter::repeat_n('\u{ad}', 1_000_000)
            .chain(['ä'])
            .collect();
        assert_eq!(encode(&hyphens), Some(b"xn--4ca".to_vec()));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    /// Every code point of a label, one at a time and between other
    /// characters, against a file of CPython results:
    /// `python3 guest/tools/gen_idna_tables.py --exhaustive > /tmp/idna.txt`, then
    /// `NATIVESOCK_IDNA_EXHAUSTIVE=/tmp/idna.txt cargo test -p nativesock-guest -- --ignored`.
    #[test]
    #[ignore = "needs a file generated by CPython"]
    fn exhaustive_against_cpython() {
        let path = std::env::var("NATIVESOCK_IDNA_EXHAUSTIVE").expect("NATIVESOCK_IDNA_EXHAUSTIVE");
        let text = std::fs::read_to_string(path).expect("read");
        let mut failures = 0;
        let mut checked = 0;
        for line in text.lines() {
            let (input, expected) = line.split_once('\t').expect("tab");
            let name: String = input
                .split(' ')
                .map(|h| char::from_u32(u32::from_str_radix(h, 16).expect("hex")).expect("char"))
                .collect();
            let expected = (expected != "!").then(|| {
                (0..expected.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&expected[i..i + 2], 16).expect("hex"))
                    .collect::<Vec<u8>>()
            });
            checked += 1;
            if encode(&name) != expected {
                failures += 1;
                if failures < 20 {
                    eprintln!("{input}: expected {expected:?}, got {:?}", encode(&name));
                }
            }
        }
        assert_eq!(failures, 0, "{failures} of {checked} differ");
    }
}

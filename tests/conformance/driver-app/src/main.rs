//! The nativesock conformance driver.
//!
//! Reads a conformance script (JSON lines, `../shared/conformance/SPEC.md`)
//! on stdin, runs each step against the imported `nativesock:socket/socket`
//! interface, and prints one result line per step, the way the CPython
//! reference runner (`pyref.py`) prints it. It interprets the script format
//! and nothing more: CPython's argument conversions and arity errors are
//! reproduced here where the typed interface cannot carry a Python value
//! (a float backlog, a tuple timeout, a socket as an address), everything
//! else is the component's answer.
//!
//! A line that is not a step at all (not JSON, `do` not a string, `args`
//! not a list) gets `{"error": "malformed step: ..."}`; the driver never
//! panics on its input.

mod bindings {
    wit_bindgen::generate!({
        // The repository's WIT package; the driver is an `app`, which only
        // imports the socket interface.
        path: "../../../wit",
        world: "app",
    });
}
mod exec;
mod pyjson;
mod val;

use std::io::{BufRead, Write};
use std::time::Instant;

use serde_json::Value as J;

use exec::Command;
use val::{Fail, Raise, Scope};

fn main() {
    let tmpdir = std::env::var("CONFORMANCE_TMPDIR")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/tmp".into());
    let mut scope = Scope::new(tmpdir);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match stdin.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("nativesock-conformance-driver: reading the script: {e}");
                break;
            }
        }
        let line = match std::str::from_utf8(&raw) {
            Ok(line) => step_line(&mut scope, line.trim()),
            Err(_) => Some(error_line("malformed step: not UTF-8")),
        };
        if let Some(line) = line {
            // A closed stdout leaves nobody to report to.
            if writeln!(stdout, "{line}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                break;
            }
        }
    }
}

/// The result line of one script line; `None` for a blank line or the header.
fn step_line(scope: &mut Scope, line: &str) -> Option<String> {
    if line.is_empty() {
        return None;
    }
    let step: J = match serde_json::from_str(line) {
        Ok(step) => step,
        Err(e) => return Some(error_line(&format!("malformed step: not JSON ({e})"))),
    };
    let Some(step) = step.as_object() else {
        return Some(error_line("malformed step: not a JSON object"));
    };
    let what = step.get("do")?;
    let Some(what) = what.as_str() else {
        return Some(error_line("malformed step: `do` must be a string"));
    };
    let args = match step.get("args") {
        None => &[][..],
        Some(J::Array(args)) => args,
        Some(_) => return Some(error_line("malformed step: `args` must be a list")),
    };
    let kw = match step.get("kw") {
        None => None,
        Some(J::Object(kw)) => Some(kw),
        Some(_) => return Some(error_line("malformed step: `kw` must be an object")),
    };

    let start = Instant::now();
    let mut out = String::from("{");
    match scope.run(&Command { what, args, kw }) {
        Ok(value) => {
            let mut ok = String::from("\"ok\": ");
            scope.encode(&mut ok, &value);
            match save(scope, step.get("as"), value) {
                Ok(()) => out.push_str(&ok),
                Err(e) => raise(&mut out, &e),
            }
        }
        Err(Fail::Raise(e)) => raise(&mut out, &e),
        Err(Fail::Unsupported(why)) => {
            out.push_str("\"unsupported\": ");
            pyjson::string(&mut out, &why);
        }
    }
    if step.get("timed").is_some_and(truthy) {
        let elapsed = (start.elapsed().as_secs_f64() * 100.0).round() / 100.0;
        out.push_str(", \"elapsed\": ");
        out.push_str(&pyjson::float(elapsed));
    }
    out.push('}');
    Some(out)
}

/// `as`: a name, or a list of names that unpack the result (`zip` stops at the shorter).
fn save(scope: &mut Scope, target: Option<&J>, value: val::Val) -> Result<(), Raise> {
    match target {
        Some(J::String(name)) if !name.is_empty() => {
            scope.saved.insert(name.clone(), value);
        }
        Some(J::Array(names)) => {
            for (name, item) in names.iter().zip(value.iterate()?) {
                if let Some(name) = name.as_str() {
                    scope.saved.insert(name.into(), item);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn raise(out: &mut String, e: &Raise) {
    out.push_str("\"raise\": {\"type\": ");
    pyjson::string(out, &e.exception);
    out.push_str(", \"errno\": ");
    match e.errno {
        Some(n) => out.push_str(&n.to_string()),
        None => out.push_str("null"),
    }
    out.push_str(", \"str\": ");
    pyjson::string(out, &e.message);
    out.push('}');
}

fn error_line(why: &str) -> String {
    let mut out = String::from("{\"error\": ");
    pyjson::string(&mut out, why);
    out.push('}');
    out
}

/// Python's truth value of a JSON value.
fn truthy(v: &J) -> bool {
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_give_error_lines() {
        let mut scope = Scope::new("/tmp".into());
        for line in [
            "{",
            "[1]",
            r#"{"do": 5}"#,
            r#"{"do": "sleep", "args": 5}"#,
            r#"{"do": "socket", "kw": []}"#,
        ] {
            let out = step_line(&mut scope, line).unwrap();
            assert!(out.starts_with("{\"error\": \"malformed step"), "{out}");
        }
        assert_eq!(step_line(&mut scope, r#"{"case": "x"}"#), None);
    }

    #[test]
    fn driver_side_errors_match_cpython() {
        let mut scope = Scope::new("/tmp".into());
        let cases = [
            (
                r#"{"do": "x.connect"}"#,
                r#"{"raise": {"type": "KeyError", "errno": null, "str": "'x'"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": [-1]}"#,
                r#"{"raise": {"type": "ValueError", "errno": null, "str": "sleep length must be non-negative"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": []}"#,
                r#"{"raise": {"type": "TypeError", "errno": null, "str": "time.sleep() takes exactly one argument (0 given)"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": [0], "as": "n"}"#,
                r#"{"ok": null}"#,
            ),
            (
                r#"{"do": "n.connect"}"#,
                r#"{"raise": {"type": "AttributeError", "errno": null, "str": "'NoneType' object has no attribute 'connect'"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": [{"bytes": "zz"}]}"#,
                r#"{"raise": {"type": "ValueError", "errno": null, "str": "non-hexadecimal number found in fromhex() arg at position 0"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": [{"what": 1}]}"#,
                r#"{"raise": {"type": "ValueError", "errno": null, "str": "unknown argument form {'what': 1}"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": [{"float": "nan"}]}"#,
                r#"{"raise": {"type": "ValueError", "errno": null, "str": "Invalid value NaN (not a number)"}}"#,
            ),
            (
                r#"{"do": "sleep", "args": [[1]]}"#,
                r#"{"raise": {"type": "TypeError", "errno": null, "str": "'tuple' object cannot be interpreted as an integer"}}"#,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(step_line(&mut scope, line).unwrap(), want, "{line}");
        }
    }

    #[test]
    fn unpacking_a_non_iterable_raises() {
        let mut scope = Scope::new("/tmp".into());
        let out = step_line(
            &mut scope,
            r#"{"do": "sleep", "args": [0], "as": ["a", "b"]}"#,
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"raise": {"type": "TypeError", "errno": null, "str": "'NoneType' object is not iterable"}}"#
        );
    }

    #[test]
    fn timed_steps_carry_elapsed() {
        let mut scope = Scope::new("/tmp".into());
        let out = step_line(
            &mut scope,
            r#"{"do": "sleep", "args": [0.05], "timed": true}"#,
        )
        .unwrap();
        assert!(
            out == r#"{"ok": null, "elapsed": 0.05}"# || out == r#"{"ok": null, "elapsed": 0.06}"#,
            "{out}"
        );
    }
}

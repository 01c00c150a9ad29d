//! `PySys_Audit`: the component's audit events, for the embedder's hooks.

use std::sync::OnceLock;

use crate::bindings::nativesock::socket::native::{self, AuditArg};
use crate::error::{self, PyResult};

/// Raises audit event `event` with the arguments `args` builds: `Err` is
/// the exception a hook raised, and the call must not happen.
///
/// When the store has no audit hook, nothing is built or sent, as CPython's
/// `PySys_Audit` returns at once when no hook is installed. The host's
/// answer is fixed for the store's life, so it is asked once.
pub fn audit(event: &str, args: impl FnOnce() -> Vec<AuditArg>) -> PyResult<()> {
    static HOOKED: OnceLock<bool> = OnceLock::new();
    if !*HOOKED.get_or_init(native::audit_hooked) {
        return Ok(());
    }
    native::audit(event, &args()).map_err(error::raised)
}

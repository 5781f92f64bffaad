//! Drives captures through the stages.
//!
//! The work is split by concern, one file each:
//! - `stages.rs`: one capture through capture reader, packet decoder and TCP
//!   reassembler into a stream sink ([`run`], [`run_until`]);
//! - `dissect.rs`: one capture's WebSocket records, warnings and problems
//!   ([`dissect_jsonl`]);
//! - `ordered.rs`: several jobs on several threads, output in input order
//!   ([`run_ordered`]);
//! - [`shard`]: one capture's WebSocket decoding spread over several threads;
//! - `diag.rs`: diagnostics, warning limits and standard error ([`Diagnostic`],
//!   [`WarnLimiter`]);
//! - [`progress`]: the progress bar.

mod diag;
mod dissect;
mod ordered;
pub mod progress;
pub mod shard;
mod stages;

pub use diag::{Diagnostic, WarnLimiter, WARNINGS_PER_KIND};
pub use dissect::{dissect_jsonl, ws_problems, JsonlSettings};
pub use ordered::run_ordered;
pub use stages::{run, run_until, FileStats};

use crate::capture::CaptureError;
use std::io;

/// Why a file could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not a capture, or unreadable from the start.
    #[error("{file}: {source}")]
    Unusable {
        /// The file.
        file: String,
        /// The reader's error.
        source: CaptureError,
    },
    /// Writing output failed (e.g. a closed pipe).
    #[error("output: {0}")]
    Output(#[from] io::Error),
}

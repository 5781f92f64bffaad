//! The decompressors (gzip, zstd, xz, lz4, bzip2, told by the magic number) on arbitrary
//! bytes: an error or output, never a panic or a hang, whatever the stream claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use wsdissect::capture::compressed::decompressing;

/// Output read before stopping: a small input may legitimately inflate without end.
const MAX_OUTPUT: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let src = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok((r, _)) = decompressing(src) else {
        return;
    };
    let _ = std::io::copy(&mut r.take(MAX_OUTPUT), &mut std::io::sink());
});

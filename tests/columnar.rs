//! Parquet and Arrow output read back equal JSON Lines, record for record and field for
//! field, for every real-peer capture (TLS ones with their key logs) and every view:
//! messages, frames, flows, tcp, stats.
//!
//! The columns are turned back into the JSON contract's shape by the README's mapping
//! (null ⇔ absent, `packet_first`/`packet_last` ⇔ `packets`, `data` ⇔ `data_b64` after
//! base64, times as nanoseconds on both sides), so any field that one format has and
//! the other lacks, or holds differently, fails the comparison.

#![cfg(feature = "columnar")]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use base64::Engine;
use common::*;
use serde_json::{Map, Value};
use std::path::Path;

/// The JSON value of row `i` of `a`; `None` for a null.
fn value(a: &dyn Array, i: usize) -> Option<Value> {
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Boolean => Value::from(a.as_boolean().value(i)),
        DataType::UInt8 => Value::from(a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => Value::from(a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => Value::from(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => Value::from(a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float64 => Value::from(a.as_primitive::<Float64Type>().value(i)),
        DataType::Timestamp(_, tz) => {
            assert_eq!(tz.as_deref(), Some("UTC"));
            Value::from(a.as_primitive::<TimestampNanosecondType>().value(i))
        }
        DataType::Utf8 => Value::from(a.as_string::<i32>().value(i)),
        DataType::Binary => Value::from(
            base64::engine::general_purpose::STANDARD.encode(a.as_binary::<i32>().value(i)),
        ),
        DataType::Dictionary(..) => {
            let d = a.as_dictionary::<Int32Type>();
            let k = d.keys().value(i) as usize;
            value(d.values().as_ref(), k).expect("dictionary value")
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>().value(i);
            Value::Array(
                (0..l.len())
                    .map(|j| value(l.as_ref(), j).unwrap_or(Value::Null))
                    .collect(),
            )
        }
        DataType::Map(..) => {
            let m = a.as_map().value(i);
            let (k, v) = (m.column(0), m.column(1));
            Value::Object(
                (0..m.len())
                    .map(|j| {
                        let Some(Value::String(k)) = value(k.as_ref(), j) else {
                            panic!("map key")
                        };
                        (k, value(v.as_ref(), j).unwrap())
                    })
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut o = Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                if let Some(v) = value(c.as_ref(), i) {
                    o.insert(f.name().clone(), v);
                }
            }
            Value::Object(o)
        }
        t => panic!("unexpected column type {t}"),
    })
}

/// The rows of `batches` as JSON objects in the contract's shape.
fn rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut o = Map::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                let Some(v) = value(c.as_ref(), i) else {
                    continue;
                };
                let name = match f.name().as_str() {
                    "data" => "data_b64",
                    "payload" => "payload_b64",
                    n => n,
                };
                o.insert(name.to_string(), v);
            }
            if let (Some(a), Some(b)) = (o.remove("packet_first"), o.remove("packet_last")) {
                o.insert("packets".into(), Value::Array(vec![a, b]));
            }
            out.push(Value::Object(o));
        }
    }
    out
}

/// Leaves out the members that are `null` (JSON writes some, `tls.alpn`; a column
/// holds a null, read back as absent).
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, v| !v.is_null());
            o.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// A JSON Lines record brought to the columnar shape's conventions: no `record` tag, no
/// `null` members, times as nanoseconds, the flags JSON leaves out when false written out, TLS alert
/// numbers as text.
fn normalise(mut j: Value) -> Value {
    drop_nulls(&mut j);
    let o = j.as_object_mut().unwrap();
    let record = o.remove("record");
    let record = record.as_ref().and_then(Value::as_str);
    let flags: &[&str] = match record {
        Some("message") => &["undecodable", "truncated"],
        Some("flow") => &["roles_swapped"],
        _ => &[],
    };
    for &flag in flags {
        o.entry(flag).or_insert(Value::Bool(false));
    }
    // Per-direction counts JSON leaves out when 0.
    let counts: &[&str] = match record {
        Some("flow") => &["guessed_messages"],
        Some("tcp") => &["encapsulation_mismatches"],
        _ => &[],
    };
    for dir in ["client_to_server", "server_to_client"] {
        if let Some(d) = o.get_mut(dir).and_then(Value::as_object_mut) {
            for &c in counts {
                d.entry(c).or_insert(Value::from(0));
            }
        }
    }
    for t in ["timestamp", "first_seen", "last_seen"] {
        if let Some(Value::String(s)) = o.get(t) {
            let ts = wsdissect::util::time::parse_rfc3339(s).unwrap();
            let ns = ts.secs * 1_000_000_000 + i64::from(ts.nanos);
            o.insert(t.into(), Value::from(ns));
        }
    }
    if let Some(alerts) = o.get_mut("tls").and_then(|t| t.get_mut("alerts")) {
        for a in alerts.as_array_mut().unwrap() {
            if let Some(n) = a["description"].as_u64() {
                a["description"] = Value::from(n.to_string());
            }
        }
    }
    j
}

/// The record types a run writes, and the arguments that make it.
const VIEWS: &[(&str, &[&str])] = &[
    ("messages", &[]),
    ("frames", &["--frames"]),
    ("flows", &["flows"]),
    ("tcp", &["tcp"]),
    ("stats", &["stats"]),
];

fn args<'a>(view: &'a [&'a str], capture: &'a Path, keylog: &'a Option<String>) -> Vec<&'a str> {
    let mut a: Vec<&str> = view.to_vec();
    a.push(capture.to_str().unwrap());
    if let Some(k) = keylog {
        a.extend(["--keylog", k.as_str()]);
    }
    a
}

/// The JSON Lines records of a view, without the message records a `--frames` run
/// mixes in (its columnar output holds the frames).
fn json_records(view: &str, a: &[&str]) -> Vec<Value> {
    let mut a = a.to_vec();
    a.extend(["--format", "jsonl"]);
    jsonl(&a)
        .into_iter()
        .filter(|r| view != "frames" || r["record"] == "frame")
        .map(normalise)
        .collect()
}

fn parquet_records(a: &[&str], dir: &Path) -> Vec<Value> {
    let file = dir.join("out.parquet");
    let mut a = a.to_vec();
    a.extend(["--format", "parquet", "--output", file.to_str().unwrap()]);
    let out = wsdissect(&a);
    assert!(
        out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = std::fs::File::open(&file).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    rows(&batches)
}

fn arrow_records(a: &[&str]) -> Vec<Value> {
    let mut a = a.to_vec();
    a.extend(["--format", "arrow"]);
    let out = wsdissect(&a);
    assert!(
        out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(out.stdout), None).unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    rows(&batches)
}

fn same(what: &str, ours: &[Value], json: &[Value]) {
    assert_eq!(ours.len(), json.len(), "{what}: record count");
    for (i, (c, j)) in ours.iter().zip(json).enumerate() {
        assert!(
            c == j,
            "{what}: record {i} differs\ncolumnar {c}\njson     {j}"
        );
    }
}

#[test]
fn parquet_and_arrow_equal_json_lines_on_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("corpus");
    let mut checked = 0;
    for capture in captures_under(&corpus) {
        let keys = capture.with_extension("keys");
        let keylog = keys.exists().then(|| keys.to_str().unwrap().to_string());
        for (view, v) in VIEWS {
            let a = args(v, &capture, &keylog);
            let json = json_records(view, &a);
            let name = format!("{} {view}", capture.file_name().unwrap().to_string_lossy());
            same(
                &format!("{name} parquet"),
                &parquet_records(&a, dir.path()),
                &json,
            );
            same(&format!("{name} arrow"), &arrow_records(&a), &json);
            checked += json.len();
        }
    }
    assert!(checked > 1000, "only {checked} records compared");
}

/// Every `--compression` gives the same rows, in the codec it names (read from the
/// file's metadata); a codec we do not know is refused.
#[test]
fn every_compression_reads_back_the_same() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let capture = testdata()
        .join("corpus")
        .join("01-python-websockets-deflate.pcap");
    let c = capture.to_str().unwrap();
    let json = json_records("messages", &[c]);
    for (arg, codec) in [
        ("zstd", "ZSTD"),
        ("zstd:-7", "ZSTD"),
        ("zstd:9", "ZSTD"),
        ("lz4", "LZ4_RAW"),
        ("none", "UNCOMPRESSED"),
    ] {
        let rows = parquet_records(&[c, "--compression", arg], dir.path());
        same(&format!("--compression {arg}"), &rows, &json);
        let f = std::fs::File::open(dir.path().join("out.parquet")).unwrap();
        let meta = SerializedFileReader::new(f).unwrap().metadata().clone();
        let used: Vec<Compression> = meta
            .row_groups()
            .iter()
            .flat_map(|g| g.columns().iter().map(|c| c.compression()))
            .collect();
        assert!(!used.is_empty());
        for u in used {
            assert!(
                format!("{u:?}").starts_with(codec),
                "--compression {arg}: a column is {u:?}"
            );
        }
    }
    for bad in ["gzip", "zstd:23", "zstd:-8", "zstd:", "lz4:1"] {
        let out = wsdissect(&[c, "--format", "parquet", "--compression", bad]);
        assert_eq!(out.status.code(), Some(2), "--compression {bad}");
    }
}

/// A run with no filter decodes on several threads (`--threads 4`, whatever the
/// machine's cores) and hands the records to the columnar writer in capture order;
/// `--threads 1` decodes on one. Both write the same bytes, for every corpus capture.
#[test]
fn decoding_on_several_threads_writes_the_same_bytes() {
    let corpus = testdata().join("corpus");
    let mut compared = 0;
    for capture in captures_under(&corpus) {
        let keys = capture.with_extension("keys");
        let keylog = keys.exists().then(|| keys.to_str().unwrap().to_string());
        for view in [&[][..], &["flows"][..]] {
            for format in ["parquet", "arrow", "jsonl"] {
                let mut a = args(view, &capture, &keylog);
                a.extend(["--format", format, "--threads"]);
                let run = |threads: &str| {
                    let mut a = a.clone();
                    a.push(threads);
                    wsdissect(&a)
                };
                let (parallel, one) = (run("4"), run("1"));
                assert_eq!(parallel.status.code(), one.status.code());
                assert!(
                    parallel.stdout == one.stdout,
                    "{} {view:?} {format}: the outputs differ",
                    capture.display()
                );
                compared += parallel.stdout.len();
            }
        }
    }
    assert!(compared > 1 << 20, "only {compared} bytes compared");
    let capture = corpus.join("08-concurrent.pcap");
    let out = wsdissect(&[capture.to_str().unwrap(), "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2), "--threads 0");
}

#[test]
fn an_empty_run_writes_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    // A capture with no WebSocket: zero rows, but a readable file with its columns.
    let capture = testdata().join("corpus").join("14-python-tls12.pcap");
    let file = dir.path().join("empty.parquet");
    let out = wsdissect(&[
        capture.to_str().unwrap(),
        "--format",
        "parquet",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert!(
        names.contains(&"timestamp") && names.contains(&"data"),
        "{names:?}"
    );
    assert_eq!(b.metadata().file_metadata().num_rows(), 0);
}

/// True when Python can import `modules` (`"pyarrow, duckdb"`). When it cannot, the
/// test `what` that needs them says on standard error that it is skipped (`install`
/// tells how to get them); in CI (`CI` set), where `.ci/run` installs them, their
/// absence fails it instead.
fn have_python(what: &str, modules: &str, install: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{what}: python3 with {modules} not found, but CI is set (.ci/run installs them)"
            );
        }
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{what}: skipped: python3 with {modules} not found ({install})"
        );
    }
    ok
}

/// pyarrow reads our Parquet and Arrow back equal to JSON Lines, and the README's DuckDB
/// recipe gives the same answers over our Parquet as over our JSON Lines
/// (tests/python/columnar.py).
#[test]
fn pyarrow_and_duckdb_read_what_we_write() {
    if !have_python(
        "pyarrow_and_duckdb_read_what_we_write",
        "pyarrow, duckdb",
        "pip install pyarrow duckdb",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let capture = testdata().join("corpus").join("08-concurrent.pcap");
    let capture = capture.to_str().unwrap();
    let write = |view: &[&str], format: &str, name: &str| {
        let file = d.join(name);
        let mut a = view.to_vec();
        a.extend([
            capture,
            "--format",
            format,
            "--output",
            file.to_str().unwrap(),
        ]);
        let out = wsdissect(&a);
        assert!(
            out.status.code() != Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    write(&[], "jsonl", "messages.jsonl");
    write(&[], "parquet", "messages.parquet");
    write(&[], "arrow", "messages.arrow");
    write(&["flows"], "jsonl", "flows.jsonl");
    write(&["flows"], "parquet", "flows.parquet");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/columnar.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A capture large enough for several row groups (encoded on several threads, written
/// in order) and several batches of each Arrow stream dictionary: read back, it is still
/// JSON Lines record for record.
#[test]
fn several_row_groups_stay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("big.pcap");
    let f = std::io::BufWriter::new(std::fs::File::create(&capture).unwrap());
    let o = wsdissect_testkit::Options {
        size: 48 << 20,
        seed: 17,
        ..Default::default()
    };
    wsdissect_testkit::generate(f, o).unwrap();
    let a = [capture.to_str().unwrap()];
    let json = json_records("messages", &a);
    same("big parquet", &parquet_records(&a, dir.path()), &json);
    same("big arrow", &arrow_records(&a), &json);
    let file = std::fs::File::open(dir.path().join("out.parquet")).unwrap();
    let meta = parquet::file::reader::FileReader::metadata(
        &parquet::file::reader::SerializedFileReader::new(file).unwrap(),
    )
    .clone();
    assert!(
        meta.num_row_groups() >= 3,
        "{} row groups",
        meta.num_row_groups()
    );
}

/// The README's Dask recipe (tests/python/dask_recipe.py): a local cluster maps capture
/// sets to Parquet parts and reads them as one dataframe holding every message. Skipped,
/// with a note, without dask and distributed (`.ci/run` installs them).
#[test]
fn dask_recipe_reads_the_parts() {
    if !have_python(
        "dask_recipe_reads_the_parts",
        "dask.dataframe, distributed",
        "pip install 'dask[dataframe]' distributed",
    ) {
        return;
    }
    // Three sets: directories of one, two and one capture files.
    run_recipe(
        "tests/python/dask_recipe.py",
        &[
            Set::Files("set-a", &["01-python-websockets-deflate.pcap"]),
            Set::Files(
                "set-b",
                &["06-cross-node-python.pcap", "08-concurrent.pcap"],
            ),
            Set::Files("set-c", &["24-h2c-websocket.pcap"]),
        ],
    );
}

/// The README's PySpark recipe (tests/python/spark_recipe.py), opt-in: it needs a JRE
/// and the pyspark wheel (`pip install pyspark==3.5.3`), too heavy for every run. Set
/// `WSDISSECT_SPARK=1` to run it; without it the test says it was skipped.
#[test]
fn spark_recipe_reads_the_parts() {
    if std::env::var_os("WSDISSECT_SPARK").is_none() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "spark_recipe_reads_the_parts: skipped (opt-in: WSDISSECT_SPARK=1, with pyspark and a JRE)"
        );
        return;
    }
    run_recipe(
        "tests/python/spark_recipe.py",
        &[
            Set::Files("set-a", &["01-python-websockets-deflate.pcap"]),
            Set::Files(
                "set-b",
                &["06-cross-node-python.pcap", "08-concurrent.pcap"],
            ),
            // A rotated set, read as the one capture it was cut from.
            Set::Corpus("27-rotated"),
        ],
    );
}

/// A capture set a recipe maps: corpus captures copied into a directory of its own, or
/// a directory of the corpus (a rotated set).
enum Set {
    Files(&'static str, &'static [&'static str]),
    Corpus(&'static str),
}

/// Runs the recipe `script` (`python3 SCRIPT WSDISSECT OUT_DIR SET...`) on `sets`, which
/// checks what it reads back, and fails with what it printed when it fails.
fn run_recipe(script: &str, sets: &[Set]) {
    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("corpus");
    let mut paths = Vec::new();
    for set in sets {
        match set {
            Set::Files(name, files) => {
                let path = dir.path().join(name);
                std::fs::create_dir(&path).unwrap();
                for f in *files {
                    std::fs::copy(corpus.join(f), path.join(f)).unwrap();
                }
                paths.push(path);
            }
            Set::Corpus(name) => paths.push(corpus.join(name)),
        }
    }
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .arg(env!("CARGO_BIN_EXE_wsdissect"))
        .arg(&parts)
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

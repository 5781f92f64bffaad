//! Comparing what `wsdissect` decoded with what the peers of a corpus capture sent (its
//! truth file, read by [`super::truth_by_direction`]).

use super::{key_of, sha, Key};
use base64::Engine;
use serde_json::Value;
use std::collections::BTreeMap;

/// The payload of a message record.
pub fn payload(m: &Value) -> Option<Vec<u8>> {
    if let Some(t) = m["text"].as_str() {
        Some(t.as_bytes().to_vec())
    } else {
        m["data_b64"]
            .as_str()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b).unwrap())
    }
}

/// Whether a message record is the message the peers sent, or how it differs.
pub fn same(ours: &Value, truth: &Value) -> Result<(), String> {
    let p = payload(ours).ok_or("no payload decoded")?;
    if ours["opcode"] != truth["opcode"] {
        return Err(format!("opcode {} vs {}", ours["opcode"], truth["opcode"]));
    }
    if p.len() as u64 != truth["length"].as_u64().unwrap() {
        return Err(format!("length {} vs {}", p.len(), truth["length"]));
    }
    if let Some(s) = truth["sha256"].as_str() {
        if sha(&p) != s {
            return Err("payload differs".into());
        }
    }
    if truth["opcode"] == "close" {
        if ours.get("close_code").cloned().unwrap_or(Value::Null) != truth["close_code"] {
            return Err(format!(
                "close code {} vs {}",
                ours["close_code"], truth["close_code"]
            ));
        }
        let reason = ours.get("close_reason").cloned().unwrap_or(Value::Null);
        let treason = match &truth["close_reason"] {
            Value::String(s) if s.is_empty() && truth["close_code"].is_null() => Value::Null,
            Value::String(s) if s.is_empty() => reason.clone(),
            other => other.clone(),
        };
        if reason != treason {
            return Err(format!("close reason {reason} vs {treason}"));
        }
    }
    if let Some(f) = truth["fragments"].as_u64() {
        if ours["frames"].as_u64() != Some(f) {
            return Err(format!("frames {} vs fragments {f}", ours["frames"]));
        }
    }
    if let Some(c) = truth["compressed"].as_bool() {
        if ours["compressed"].as_bool() != Some(c) {
            return Err(format!("compressed {} vs {c}", ours["compressed"]));
        }
    }
    Ok(())
}

/// Asserts that the message records among `records` are exactly the messages of
/// `truth`: per connection and direction, in order, without errors, and none on
/// connections the peers do not know. Returns how many were compared; `name` names the
/// capture in failures.
pub fn assert_exact(name: &str, records: &[Value], truth: &BTreeMap<Key, Vec<Value>>) -> usize {
    let mut ours: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
    for r in records.iter().filter(|r| r["record"] == "message") {
        ours.entry(key_of(r)).or_default().push(r.clone());
    }
    let mut matched = 0;
    for (k, t) in truth {
        let o = ours.remove(k).unwrap_or_default();
        assert_eq!(
            o.len(),
            t.len(),
            "{name}: {k:?}: {} messages decoded, peers sent {}",
            o.len(),
            t.len()
        );
        for (i, (om, tm)) in o.iter().zip(t).enumerate() {
            assert!(
                om["errors"].as_array().unwrap().is_empty(),
                "{name}: {k:?} #{i}: errors {}",
                om["errors"]
            );
            if let Err(e) = same(om, tm) {
                panic!("{name}: {k:?} message #{i}: {e}\nours: {om}\ntruth: {tm}");
            }
        }
        matched += o.len();
    }
    assert!(
        ours.is_empty(),
        "{name}: messages on connections the peers do not know: {:?}",
        ours.keys()
    );
    matched
}

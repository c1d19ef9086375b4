//! Shared by the test suites: every report a test produces is validated against the published
//! JSON Schema (docs/report.schema.json), so real output can never drift from the contract.

#![allow(dead_code)]

use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/report.schema.json"))
                .expect("schema is JSON");
        jsonschema::validator_for(&schema).expect("schema compiles")
    })
}

/// The schema's errors for a report, as text (empty when valid).
pub(crate) fn schema_errors(v: &serde_json::Value) -> Vec<String> {
    validator()
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The errors of one `watch --samples` line against docs/watch-sample.schema.json (empty when
/// valid).
pub(crate) fn sample_errors(v: &serde_json::Value) -> Vec<String> {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    let v8r = V.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/watch-sample.schema.json"))
                .expect("schema is JSON");
        jsonschema::validator_for(&schema).expect("schema compiles")
    });
    v8r.iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// A report around engine results, as `check` builds it.
pub(crate) fn report_of(results: Vec<preflight::result::CheckResult>) -> serde_json::Value {
    use preflight::result::{
        HostInfo, Report, RunOptions, Summary, TargetInfo, ToolInfo, SCHEMA_VERSION,
    };
    let r = Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "ack-edge-preflight".into(),
            version: "0.0.0".into(),
        },
        started_at: "2026-11-21T10:00:00Z".into(),
        duration_ms: 1,
        host: HostInfo::default(),
        target: TargetInfo {
            region: "cn-hangzhou".into(),
            cni: "flannel".into(),
            apiserver: None,
        },
        options: RunOptions::default(),
        summary: Summary::of(&results, false),
        waivers: vec![],
        results,
    };
    serde_json::to_value(&r).expect("serialisable")
}

//! The ledger of reached (operationId, status, error_code) triples, the violations
//! found, and the report that fails the run when a documented pair was never reached.

use std::collections::{BTreeMap, BTreeSet};

use crate::helpers::Backend;

use super::catalog::{documented_pairs, EXCLUDED};
use super::spec::Spec;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Setup,
    Sweep,
    Fuzz,
}

type Triple = (String, u16, String);

#[derive(Default)]
pub struct Ledger {
    /// (op, status, code) → requests in [setup, sweep, fuzz]
    pub seen: BTreeMap<Triple, [u32; 3]>,
}

impl Ledger {
    pub fn record(&mut self, op: &str, status: u16, code: Option<&str>, phase: Phase) {
        let key = (op.to_owned(), status, code.unwrap_or_default().to_owned());
        self.seen.entry(key).or_default()[phase as usize] += 1;
    }

    /// Whether fuzzing reached `pair`.
    fn fuzzed(&self, pair: &Triple) -> bool {
        let n = self.seen.get(pair);
        n.is_some_and(|n| n[Phase::Fuzz as usize] > 0)
    }
}

pub struct Violation {
    pub op: String,
    pub what: String,
    pub repro: String,
    pub answer: String,
}

/// How many requests each part of the run sent, and how long it took.
pub struct Totals {
    pub sweep: u64,
    pub fuzz: u64,
    pub limited: u64,
    pub cases: u32,
    pub elapsed: std::time::Duration,
}

/// Prints the coverage, then fails if a documented pair was never reached or a rule
/// was broken.
pub fn report(
    backend: Backend,
    spec: &Spec,
    ledger: &Ledger,
    violations: &[Violation],
    totals: Totals,
) {
    let name = format!("{backend:?}").to_lowercase();
    let documented = documented_pairs();
    let missing: Vec<&Triple> = documented
        .iter()
        .filter(|p| !ledger.seen.contains_key(*p))
        .collect();
    print_summary(&name, spec, ledger, &documented, missing.len(), &totals);
    let mut failure = String::new();
    for (op, s, c) in &missing {
        failure += &format!("\n  never reached: {op} {s} {c}");
    }
    for v in violations {
        failure += &format!(
            "\n  {}: {}\n      request: {}\n      answer:  {}",
            v.op, v.what, v.repro, v.answer
        );
    }
    assert!(
        missing.is_empty() && violations.is_empty(),
        "contract [{name}]: {} documented pairs never reached, {} violations:{failure}",
        missing.len(),
        violations.len()
    );
}

fn print_summary(
    name: &str,
    spec: &Spec,
    ledger: &Ledger,
    documented: &BTreeSet<Triple>,
    missing: usize,
    totals: &Totals,
) {
    let by_fuzz = documented.iter().filter(|p| ledger.fuzzed(p)).count();
    let extra: Vec<String> = ledger
        .seen
        .keys()
        .filter(|p| !documented.contains(*p))
        .map(|(op, s, c)| format!("{op} {s} {c}"))
        .collect();
    let total: u32 = ledger.seen.values().map(|n| n.iter().sum::<u32>()).sum();
    eprintln!(
        "contract [{name}]: {} operations (+2 pseudo-operations), {} fuzz cases each; \
         {total} requests (sweep {}, fuzz {}, rate-limited and verification-required servers {}) in {:.1} s",
        spec.operation_ids().len(),
        totals.cases,
        totals.sweep,
        totals.fuzz,
        totals.limited,
        totals.elapsed.as_secs_f64()
    );
    eprintln!(
        "contract [{name}]: ledger holds {} distinct (operationId, status, error_code) triples",
        ledger.seen.len()
    );
    eprintln!(
        "contract [{name}]: pair coverage {}/{} documented pairs reached ({by_fuzz} by fuzzing alone)",
        documented.len() - missing,
        documented.len(),
    );
    eprintln!(
        "contract [{name}]: {} excluded here: covered by the fault-injection tests in \
         tests/api/operations*",
        EXCLUDED.join("/")
    );
    if !extra.is_empty() {
        eprintln!(
            "contract [{name}]: also reached (declared, outside the table): {}",
            extra.join(", ")
        );
    }
}

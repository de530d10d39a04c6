//! The macro's list of checks and the checks module agree: every `pub async fn` in
//! `src/checks/` is listed exactly once, so `conformance_tests!` runs every check.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_check_is_listed_once() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/checks");
    let mut defined = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/checks is readable") {
        let source = std::fs::read_to_string(entry.expect("a directory entry").path())
            .expect("a check source is readable");
        for line in source.lines() {
            if let Some(rest) = line.strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    defined.insert(name.clone()),
                    "check {name} is defined twice"
                );
            }
        }
    }

    let listed: BTreeSet<String> = one_testkit::CHECKS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        listed.len(),
        one_testkit::CHECKS.len(),
        "a check is listed twice"
    );
    let missing: Vec<_> = defined.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&defined).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "__for_each_check! in src/macros.rs and src/checks/ disagree: not listed {missing:?}, \
         listed but not defined {unknown:?}"
    );
}

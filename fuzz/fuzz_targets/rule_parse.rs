//! Any text as an auditctl rule file: parsing never panics, and every rule it
//! accepts survives the kernel's wire form (decode(encode(r)) == r) and its
//! `auditctl -l` text (the text parses back to the same rule).
#![no_main]
use audex_kernel::rules::syntax::Names;
use audex_kernel::rules::{parse_file_text, Directive, KernelRule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let names = Names::default();
    let (parsed, _errors) = parse_file_text("fuzz.rules", &text, &names);
    for p in parsed {
        let Directive::Rule { rule, .. } = p.directive else {
            continue;
        };
        let bytes = rule.encode();
        assert_eq!(KernelRule::decode(&bytes).as_ref(), Some(&rule), "wire form");
        let listed = rule.to_text();
        let (again, errors) = parse_file_text("listed.rules", &listed, &names);
        assert!(errors.is_empty(), "{listed}: {errors:?}");
        match again.into_iter().next().map(|p| p.directive) {
            Some(Directive::Rule { rule: r, .. }) => assert_eq!(r.encode(), bytes, "{listed}"),
            other => panic!("{listed} parsed as {other:?}"),
        }
    }
});

//! Lines of arbitrary bytes through parse → correlate → normalize: never panics,
//! and every parsed record is accounted for (in an event, EOE, capped or late).
#![no_main]
use audex_correlate::{Config, Correlator, Output};
use audex_normalize::{NoNames, Normalizer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = Correlator::new(Config { max_in_flight: 8, max_records_per_event: 16, ..Config::default() });
    let n = Normalizer::new(NoNames, Default::default());
    let mut pushed = 0u64;
    let mut in_events = 0u64;
    let take = |c: &mut Correlator, in_events: &mut u64| {
        while let Some(o) = c.pop() {
            if let Output::Event(a) = &o {
                *in_events += a.records.len() as u64;
            }
            let _ = n.normalize(&o);
        }
    };
    for line in data.split(|&b| b == b'\n') {
        if let Ok(r) = audex_parse::parse_line(line) {
            pushed += 1;
            c.push(r);
        }
        take(&mut c, &mut in_events);
    }
    c.flush();
    take(&mut c, &mut in_events);
    let s = c.stats();
    assert_eq!(s.records, pushed);
    assert_eq!(s.records_in_events, in_events);
    assert_eq!(s.records, s.records_in_events + s.eoe + s.dropped_by_cap + s.late);
});

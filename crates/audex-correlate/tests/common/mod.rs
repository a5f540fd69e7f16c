//! Shared by the correlator's tests: a stream through a correlator, as replay drives it.
use audex_correlate::{Config, Correlator, Output, Stats};
use audex_parse::Record;

/// Pushes every record (taking what completes as it goes), flushes, and returns
/// every output in order with the final counters.
pub fn run(cfg: Config, recs: Vec<Record>) -> (Vec<Output>, Stats) {
    let mut c = Correlator::new(cfg);
    let mut out = Vec::new();
    for r in recs {
        c.push(r);
        out.extend(std::iter::from_fn(|| c.pop()));
    }
    c.flush();
    out.extend(std::iter::from_fn(|| c.pop()));
    (out, c.stats().clone())
}

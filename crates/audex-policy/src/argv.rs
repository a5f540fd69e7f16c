//! argv limits (`max_args`, `max_argv_bytes`): an exec with 44,000 arguments
//! or megabytes of them keeps its first and last arguments, with one marker
//! element in place of the middle and the count of what was cut in
//! `process.args_cut` / `args_bytes_cut`. Takes an event's process (and its
//! parent's argv); gives them trimmed, the command line rebuilt from what is
//! kept. Runs before filters' and tenants' redaction, so every copy is cut
//! the same way.
use audex_proto::v1::Process;

/// The limits; None: no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArgvLimit {
    pub max_args: Option<usize>,
    pub max_bytes: Option<usize>,
}

/// What trimming one argv cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cut {
    pub args: usize,
    pub bytes: usize,
}

impl ArgvLimit {
    pub fn is_none(&self) -> bool {
        self.max_args.is_none() && self.max_bytes.is_none()
    }

    /// Trims `p.args` (and the parent's) to the limits; counts what the
    /// process's own argv lost in `args_cut` and `args_bytes_cut`.
    pub fn apply(&self, p: &mut Process) {
        if self.is_none() {
            return;
        }
        let cut = self.trim(&mut p.args);
        if cut.args > 0 {
            p.args_cut = p.args_cut.saturating_add(cut.args as u32);
            p.args_bytes_cut = p.args_bytes_cut.saturating_add(cut.bytes as u64);
            p.command_line = p.args.join(" ");
        }
        if let Some(parent) = &mut p.parent {
            self.trim(&mut parent.args);
        }
    }

    /// Keeps arguments from both ends alternately (first, last, second, ...)
    /// while they fit in `max_args` and `max_bytes`; the rest become one
    /// marker element. An argument that does not fit ends its side: the kept
    /// ones are whole, never cut inside.
    pub fn trim(&self, args: &mut Vec<String>) -> Cut {
        let max_args = self.max_args.unwrap_or(usize::MAX);
        let max_bytes = self.max_bytes.unwrap_or(usize::MAX);
        let total: usize = args.iter().map(String::len).sum();
        if args.len() <= max_args && total <= max_bytes {
            return Cut::default();
        }
        let (mut head, mut tail) = (0, args.len());
        let (mut kept, mut bytes) = (0usize, 0usize);
        let (mut head_open, mut tail_open) = (true, true);
        let mut from_head = true;
        while head < tail && kept < max_args && (head_open || tail_open) {
            if from_head && head_open || !tail_open {
                let n = args[head].len();
                if bytes + n <= max_bytes {
                    bytes += n;
                    head += 1;
                    kept += 1;
                } else {
                    head_open = false;
                }
            } else {
                let n = args[tail - 1].len();
                if bytes + n <= max_bytes {
                    bytes += n;
                    tail -= 1;
                    kept += 1;
                } else {
                    tail_open = false;
                }
            }
            from_head = !from_head;
        }
        let cut = Cut {
            args: tail - head,
            bytes: total - bytes,
        };
        let marker = format!("[... {} args, {} bytes cut ...]", cut.args, cut.bytes);
        args.splice(head..tail, std::iter::once(marker));
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(n: usize, len: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:0len$}")).collect()
    }

    #[test]
    fn a_short_argv_is_untouched() {
        let limit = ArgvLimit {
            max_args: Some(4),
            max_bytes: Some(100),
        };
        let mut a = argv(4, 3);
        assert_eq!(limit.trim(&mut a), Cut::default());
        assert_eq!(a, argv(4, 3));
    }

    #[test]
    fn the_middle_goes_and_a_marker_counts_it() {
        let limit = ArgvLimit {
            max_args: Some(4),
            max_bytes: None,
        };
        let mut a = argv(44_000, 5);
        let cut = limit.trim(&mut a);
        assert_eq!(
            cut,
            Cut {
                args: 43_996,
                bytes: 43_996 * 5
            }
        );
        assert_eq!(
            a,
            [
                "00000",
                "00001",
                "[... 43996 args, 219980 bytes cut ...]",
                "43998",
                "43999"
            ]
        );
    }

    #[test]
    fn bytes_bound_what_is_kept_and_a_long_argument_closes_its_side() {
        let limit = ArgvLimit {
            max_args: None,
            max_bytes: Some(10),
        };
        let mut a: Vec<String> = ["ls", "aaaaaaaaaaaaaaaa", "b", "cc", "d"]
            .map(String::from)
            .to_vec();
        let cut = limit.trim(&mut a);
        // ls (2), d (1): the 16-byte second argument does not fit and ends the
        // head; the tail goes on with cc (2) and b (1).
        assert_eq!(a, ["ls", "[... 1 args, 16 bytes cut ...]", "b", "cc", "d"]);
        assert_eq!(cut, Cut { args: 1, bytes: 16 });
    }

    #[test]
    fn the_process_counts_what_was_cut_and_its_command_line_follows() {
        let limit = ArgvLimit {
            max_args: Some(2),
            max_bytes: None,
        };
        let mut p = Process {
            args: argv(5, 1),
            command_line: "0 1 2 3 4".into(),
            parent: Some(audex_proto::v1::Parent {
                args: argv(3, 1),
                ..Default::default()
            }),
            ..Default::default()
        };
        limit.apply(&mut p);
        assert_eq!(p.args, ["0", "[... 3 args, 3 bytes cut ...]", "4"]);
        assert_eq!((p.args_cut, p.args_bytes_cut), (3, 3));
        assert_eq!(p.command_line, "0 [... 3 args, 3 bytes cut ...] 4");
        assert_eq!(
            p.parent.unwrap().args,
            ["0", "[... 1 args, 1 bytes cut ...]", "2"]
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// Kept arguments are a prefix and a suffix of the original, within
        /// the limits; kept + cut = the original, in count and bytes.
        #[test]
        fn kept_and_cut_add_up(args in proptest::collection::vec("[a-z]{0,12}", 0..40),
                               max_args in proptest::option::of(0usize..10),
                               max_bytes in proptest::option::of(0usize..80)) {
            let limit = ArgvLimit { max_args, max_bytes };
            let mut a = args.clone();
            let cut = limit.trim(&mut a);
            if cut == Cut::default() && a == args {
                prop_assert!(args.len() <= max_args.unwrap_or(usize::MAX));
                prop_assert!(args.iter().map(String::len).sum::<usize>() <= max_bytes.unwrap_or(usize::MAX));
                return Ok(());
            }
            let m = a.iter().position(|x| x.starts_with("[... ")).expect("a marker");
            let (head, tail) = (&a[..m], &a[m + 1..]);
            prop_assert_eq!(head, &args[..head.len()]);
            prop_assert_eq!(tail, &args[args.len() - tail.len()..]);
            let kept_bytes: usize = head.iter().chain(tail).map(String::len).sum();
            prop_assert!(head.len() + tail.len() <= max_args.unwrap_or(usize::MAX));
            prop_assert!(kept_bytes <= max_bytes.unwrap_or(usize::MAX));
            prop_assert_eq!(head.len() + tail.len() + cut.args, args.len());
            prop_assert_eq!(kept_bytes + cut.bytes, args.iter().map(String::len).sum::<usize>());
        }
    }
}

//! [`Argv`]: a process's arguments as the process cache keeps them, in one
//! buffer with the end of each argument beside it: two allocations an entry
//! instead of one for each argument. An exec of 36 arguments cost 37
//! allocations to cache; on the auditd storm capture (an exec in four events)
//! those were a tenth of `replay`'s allocations.

/// Arguments in one string, each ending where `ends` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Argv {
    text: Box<str>,
    ends: Box<[u32]>,
}

impl Argv {
    /// Arguments, one after the other.
    pub fn new<'a>(args: impl IntoIterator<Item = &'a str> + Clone) -> Argv {
        let (mut n, mut bytes) = (0, 0);
        for a in args.clone() {
            n += 1;
            bytes += a.len();
        }
        let mut text = String::with_capacity(bytes);
        let mut ends = Vec::with_capacity(n);
        for a in args {
            text.push_str(a);
            // An argv is bounded far below 4 GiB (records are); were one not,
            // the arguments past it would read as empty, never out of bounds.
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        Argv {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// Each argument, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + Clone {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let e = (e as usize).min(self.text.len()).max(start);
            let a = self.text.get(start..e).unwrap_or("");
            start = e;
            a
        })
    }

    /// The arguments as the event's `args` list.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes held (the text and the ends).
    pub fn mem_bytes(&self) -> usize {
        self.text.len() + self.ends.len() * std::mem::size_of::<u32>()
    }
}

impl From<&[String]> for Argv {
    fn from(args: &[String]) -> Argv {
        Argv::new(args.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_arguments_and_none() {
        let a = Argv::new(["", "x", "", "yz", ""]);
        assert_eq!(a.to_vec(), ["", "x", "", "yz", ""]);
        assert!(Argv::new([]).is_empty());
        assert_eq!(Argv::new([]).to_vec(), Vec::<String>::new());
    }

    proptest! {
        /// Whatever the arguments (NULs, spaces, multi-byte text), they come
        /// back as they went in.
        #[test]
        fn gives_back_what_it_took(args in proptest::collection::vec(".*", 0..12)) {
            let a = Argv::from(args.as_slice());
            prop_assert_eq!(a.to_vec(), args.clone());
            prop_assert_eq!(a.iter().count(), args.len());
            prop_assert_eq!(a.mem_bytes(), args.iter().map(String::len).sum::<usize>() + 4 * args.len());
        }
    }
}

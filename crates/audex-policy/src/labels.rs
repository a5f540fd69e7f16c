//! Process labels (`labels: [{name, exe, argv, keys}]`): a process gets a
//! label when it execs a program matching one of `exe` (globs, as in
//! selectors), with an argv matching one of `argv` (regexes, over the
//! arguments joined by spaces), or when one of its events carries one of
//! `keys`. The process cache keeps a process's labels and hands them to its
//! descendants (fork and exec); events carry them as `process.labels[]`,
//! which filters and tenants can match. Input: the specs. Output: compiled
//! rules that answer with a label set (a bit per label, at most
//! [`MAX_LABELS`]) and name a set.
use crate::selector::PathPattern;
use regex::Regex;

/// A label rule as configured; any criterion given that matches labels the
/// process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSpec {
    pub name: String,
    pub exe: Vec<String>,
    pub argv: Vec<String>,
    pub keys: Vec<String>,
}

/// Distinct labels at most (a process's set is one word).
pub const MAX_LABELS: usize = 64;

/// A set of labels, a bit per label in config order.
pub type LabelSet = u64;

#[derive(Debug, Clone)]
struct Rule {
    bit: LabelSet,
    exe: Vec<PathPattern>,
    argv: Vec<Regex>,
    keys: Vec<String>,
}

/// The compiled rules.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    names: Vec<String>,
    rules: Vec<Rule>,
}

impl Labels {
    /// Errors name the rule and the entry that does not compile. Rules with
    /// the same name add to one label.
    pub fn compile(specs: &[LabelSpec]) -> Result<Labels, String> {
        let mut out = Labels::default();
        for s in specs {
            let at = |e: String| format!("label `{}`: {e}", s.name);
            if s.name.is_empty() {
                return Err("a label needs a `name`".into());
            }
            if s.exe.is_empty() && s.argv.is_empty() && s.keys.is_empty() {
                return Err(at(
                    "give `exe`, `argv` or `keys` (what labels a process)".into()
                ));
            }
            let index = match out.names.iter().position(|n| *n == s.name) {
                Some(i) => i,
                None if out.names.len() == MAX_LABELS => {
                    return Err(at(format!("more than {MAX_LABELS} distinct labels")))
                }
                None => {
                    out.names.push(s.name.clone());
                    out.names.len() - 1
                }
            };
            out.rules.push(Rule {
                bit: 1 << index,
                exe: s
                    .exe
                    .iter()
                    .map(|p| PathPattern::new(p).map_err(|e| at(format!("`exe`: {e}"))))
                    .collect::<Result<_, _>>()?,
                argv: s
                    .argv
                    .iter()
                    .map(|r| {
                        Regex::new(r).map_err(|e| {
                            // The parser's message spans lines (the pattern, a caret, the reason).
                            let e = e.to_string();
                            let why = e
                                .lines()
                                .last()
                                .unwrap_or_default()
                                .trim_start_matches("error: ");
                            at(format!("`argv`: `{r}` is not a valid regex: {why}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                keys: s.keys.clone(),
            });
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The labels an exec of `exe` with `args` gives (argv patterns match the
    /// arguments joined by spaces).
    pub fn of_exec<'a>(&self, exe: &str, args: impl IntoIterator<Item = &'a str>) -> LabelSet {
        let mut args = args.into_iter().peekable();
        let has_args = args.peek().is_some();
        let mut set = 0;
        let mut joined: Option<String> = None;
        for r in &self.rules {
            if set & r.bit != 0 {
                continue;
            }
            let by_exe = r.exe.iter().any(|p| p.matches(exe, false));
            let by_argv = !by_exe && !r.argv.is_empty() && has_args && {
                let line = joined.get_or_insert_with(|| join(&mut args));
                r.argv.iter().any(|re| re.is_match(line))
            };
            if by_exe || by_argv {
                set |= r.bit;
            }
        }
        set
    }

    /// The labels an event's rule keys give its process.
    pub fn of_keys(&self, keys: &[String]) -> LabelSet {
        if keys.is_empty() {
            return 0;
        }
        self.rules
            .iter()
            .filter(|r| r.keys.iter().any(|k| keys.contains(k)))
            .fold(0, |set, r| set | r.bit)
    }

    /// The names of the labels in `set`, in config order.
    pub fn names(&self, set: LabelSet) -> Vec<String> {
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| set & (1 << i) != 0)
            .map(|(_, n)| n.clone())
            .collect()
    }
}

/// Arguments joined by spaces.
fn join<'a>(args: impl Iterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, a) in args.enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(a);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, exe: &[&str], argv: &[&str], keys: &[&str]) -> LabelSpec {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        LabelSpec {
            name: name.into(),
            exe: v(exe),
            argv: v(argv),
            keys: v(keys),
        }
    }

    #[test]
    fn exe_argv_and_keys_label() {
        let l = Labels::compile(&[
            spec("shell", &["bash", "/usr/bin/dash"], &[], &[]),
            spec("backup", &[], &["^rsync .*--delete"], &[]),
            spec("admin", &[], &[], &["sudo-cmd"]),
            spec("shell", &["zsh"], &[], &[]),
        ])
        .unwrap();
        let args = |s: &'static str| s.split(' ');
        assert_eq!(
            l.names(l.of_exec("/bin/bash", args("bash -c x"))),
            ["shell"]
        );
        assert_eq!(l.names(l.of_exec("/usr/bin/zsh", [])), ["shell"]);
        assert_eq!(l.of_exec("/usr/bin/dash2", []), 0);
        assert_eq!(
            l.names(l.of_exec("/usr/bin/rsync", args("rsync -a --delete a b"))),
            ["backup"]
        );
        assert_eq!(l.of_exec("/usr/bin/rsync", args("rsync -a a b")), 0);
        assert_eq!(
            l.names(l.of_keys(&["x".into(), "sudo-cmd".into()])),
            ["admin"]
        );
        assert_eq!(l.of_keys(&[]), 0);
    }

    #[test]
    fn bad_rules_are_named() {
        let e = Labels::compile(&[spec("x", &[], &["("], &[])]).unwrap_err();
        assert!(
            e.contains("label `x`: `argv`: `(` is not a valid regex"),
            "{e}"
        );
        let e = Labels::compile(&[spec("x", &["[a"], &[], &[])]).unwrap_err();
        assert!(e.contains("label `x`: `exe`"), "{e}");
        let e = Labels::compile(&[spec("x", &[], &[], &[])]).unwrap_err();
        assert!(e.contains("give `exe`, `argv` or `keys`"), "{e}");
        let many: Vec<LabelSpec> = (0..=MAX_LABELS)
            .map(|i| spec(&format!("l{i}"), &["x"], &[], &[]))
            .collect();
        assert!(Labels::compile(&many).unwrap_err().contains("more than 64"));
    }
}

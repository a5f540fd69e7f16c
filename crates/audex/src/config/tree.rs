//! The YAML tree with positions, and the list that collects every error with
//! its file, line and column instead of stopping at the first.
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::cell::RefCell;
use std::fmt;

/// One configuration error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file,
            self.line,
            self.col + 1,
            self.message
        )
    }
}

/// Collects errors while the schema walks the tree.
pub struct Errors {
    file: String,
    pub list: RefCell<Vec<ConfigError>>,
    /// Whether checks may look at this machine (files, directories named by
    /// the config); off for `audex validate --no-environment`.
    pub environment: bool,
}

pub type Node<'a> = MarkedYaml<'a>;

impl Errors {
    pub fn new(file: &str) -> Errors {
        Errors {
            file: file.to_string(),
            list: RefCell::new(Vec::new()),
            environment: true,
        }
    }

    pub fn at(&self, n: &Node, message: impl Into<String>) {
        self.at_line(n.span.start.line(), n.span.start.col(), message);
    }

    pub fn at_line(&self, line: usize, col: usize, message: impl Into<String>) {
        self.list.borrow_mut().push(ConfigError {
            file: self.file.clone(),
            line,
            col,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.borrow().is_empty()
    }

    /// Every error, sorted by position; Ok when there is none.
    pub fn finish(self) -> Result<(), Vec<ConfigError>> {
        let mut list = self.list.into_inner();
        if list.is_empty() {
            return Ok(());
        }
        list.sort_by_key(|e| (e.line, e.col));
        Err(list)
    }

    pub fn len(&self) -> usize {
        self.list.borrow().len()
    }
}

/// Parses the text; a syntax error is returned as the only error.
pub fn parse<'a>(text: &'a str, errs: &Errors) -> Option<Node<'a>> {
    match MarkedYaml::load_from_str(text) {
        Ok(docs) if docs.len() > 1 => {
            let second = &docs[1];
            errs.at_line(
                second.span.start.line(),
                second.span.start.col(),
                "a second YAML document (after `---`): audex reads one; put everything in one document",
            );
            None
        }
        Ok(mut docs) if !docs.is_empty() => Some(docs.swap_remove(0)),
        Ok(_) => {
            errs.at_line(1, 0, "the file is empty");
            None
        }
        Err(e) => {
            errs.at_line(
                e.marker().line(),
                e.marker().col(),
                format!("YAML syntax: {}", e.info()),
            );
            None
        }
    }
}

/// What a node is, for messages.
pub fn kind(n: &Node) -> &'static str {
    match &n.data {
        YamlData::Value(Scalar::Null) => "nothing",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "a number",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        _ => "something else",
    }
}

//! Exporter endpoints: `http://host:port[/path]` or `https://...`, checked with
//! a clear word on what is wrong.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A checked endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Path without the leading slash ("" when none).
    pub path: String,
}

impl Endpoint {
    /// `scheme://host:port` (no path), as tonic wants it.
    pub fn origin(&self) -> String {
        let s = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{s}://{}:{}", self.host, self.port)
    }
}

/// Parses an endpoint; `default_port` applies when none is given.
pub fn parse_endpoint(s: &str, default_port: u16) -> Result<Endpoint, String> {
    let (scheme, rest) = if let Some(r) = s.strip_prefix("http://") {
        (Scheme::Http, r)
    } else if let Some(r) = s.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if s.contains("://") {
        return Err(format!(
            "endpoint {s:?}: the scheme must be http:// or https://"
        ));
    } else {
        return Err(format!(
            "endpoint {s:?}: give a scheme, e.g. http://{s} or https://{s}"
        ));
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(format!("endpoint {s:?}: no host"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("endpoint {s:?}: unclosed [ in an IPv6 address"))?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("endpoint {s:?}: no host"));
    }
    let port =
        match port {
            None => default_port,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
                format!("endpoint {s:?}: port {p:?} is not a number from 1 to 65535")
            })?,
        };
    Ok(Endpoint {
        scheme,
        host,
        port,
        path: path.trim_end_matches('/').to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = parse_endpoint("https://otel-collector:4317", 4317).unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Https, "otel-collector", 4317)
        );
        let e = parse_endpoint("http://127.0.0.1:4318/v1/logs", 4318).unwrap();
        assert_eq!(e.path, "v1/logs");
        assert_eq!(parse_endpoint("http://[::1]", 4317).unwrap().host, "[::1]");
        assert!(parse_endpoint("otel:4317", 4317)
            .unwrap_err()
            .contains("give a scheme"));
        assert!(parse_endpoint("grpc://otel:4317", 4317)
            .unwrap_err()
            .contains("http:// or https://"));
        assert!(parse_endpoint("http://otel:99999", 4317)
            .unwrap_err()
            .contains("port"));
        assert!(parse_endpoint("http://:4317", 4317)
            .unwrap_err()
            .contains("no host"));
    }
}

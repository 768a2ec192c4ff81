//! Whether an endpoint reaches this machine.
//!
//! One rule, used wherever the tool judges an address: which AWS endpoints get dummy
//! credentials (never the caller's real keys), which addresses the sandbox may listen on, and
//! which frontends Lambda could never reach. The rule works on the URL as a browser parses it
//! (WHATWG, through the `url` crate), so every spelling that connects to this machine is caught:
//! `127.1`, `2130706433`, `LOCALHOST`, `[::ffff:127.0.0.1]`, userinfo in front of the host, ...
//!
//! `endpoints.txt` lists the spellings with their expected class; the Python launcher of the
//! sandbox implements the same rule and is checked against the same table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Where connecting to an endpoint goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locality {
    /// A loopback address (`127.0.0.0/8`, `::1`, IPv4-mapped loopback) or `localhost` and its
    /// subdomains: this machine, and a safe address to listen on.
    Loopback,
    /// `0.0.0.0/8` or `::`: connecting reaches this machine, but listening there would accept
    /// connections from every network the machine is on.
    AnyInterface,
    /// Anything else, including URLs that do not parse (nothing can connect to them).
    Remote,
}

impl Locality {
    /// Whether connecting reaches this machine.
    pub fn is_local(self) -> bool {
        self != Locality::Remote
    }
}

/// Classifies a URL (`http://127.1:5050`) or a bare address (`127.0.0.1:7233`, `[::1]:7233`).
pub fn classify(endpoint: &str) -> Locality {
    parse(endpoint).map_or(Locality::Remote, |url| match url.host() {
        Some(Host::Domain(name)) => classify_name(name),
        Some(Host::Ipv4(ip)) => classify_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => classify_ip(IpAddr::V6(ip)),
        None => Locality::Remote,
    })
}

/// Classifies a bare host as bound or dialled: `127.0.0.1`, `::1` (no brackets needed),
/// `localhost`.
pub fn classify_host(host: &str) -> Locality {
    if host.contains(':') && !host.starts_with('[') {
        classify(&format!("[{host}]"))
    } else {
        classify(host)
    }
}

/// Whether connecting to `endpoint` reaches this machine: such an endpoint must never get real
/// credentials.
pub fn is_local(endpoint: &str) -> bool {
    classify(endpoint).is_local()
}

/// Whether `endpoint` is a loopback address, the only kind the sandbox listens on.
pub fn is_loopback(endpoint: &str) -> bool {
    classify(endpoint) == Locality::Loopback
}

/// The host and port of `endpoint` as a socket address string (`127.0.0.1:5050`,
/// `[::1]:7233`), normalised (`127.1` becomes `127.0.0.1`); the port defaults to the scheme's.
/// `None` when it does not parse or has no port.
pub fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let url = parse(endpoint)?;
    let host = match url.host()? {
        Host::Domain(name) => name.to_owned(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    Some((host, url.port_or_known_default()?))
}

/// A URL as given, or a bare `host[:port]` read as `http://host[:port]`.
fn parse(endpoint: &str) -> Option<Url> {
    if endpoint.contains("://") {
        Url::parse(endpoint).ok()
    } else {
        Url::parse(&format!("http://{endpoint}")).ok()
    }
}

fn classify_name(name: &str) -> Locality {
    // The URL parser has lower-cased the name; a trailing dot is the same name, fully qualified.
    let name = name.strip_suffix('.').unwrap_or(name);
    if name == "localhost" || name.ends_with(".localhost") {
        Locality::Loopback
    } else {
        Locality::Remote
    }
}

fn classify_ip(ip: IpAddr) -> Locality {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None if v6.is_loopback() => Locality::Loopback,
            None if v6 == Ipv6Addr::UNSPECIFIED => Locality::AnyInterface,
            None => Locality::Remote,
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Locality {
    if ip.is_loopback() {
        Locality::Loopback
    } else if ip.octets()[0] == 0 {
        Locality::AnyInterface
    } else {
        Locality::Remote
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared table: `(spelling, class)` rows.
    fn table() -> Vec<(&'static str, &'static str)> {
        include_str!("../endpoints.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (spelling, class) = l.trim_end().rsplit_once(' ').expect("two columns");
                (spelling.trim_end(), class)
            })
            .collect()
    }

    fn name(l: Locality) -> &'static str {
        match l {
            Locality::Loopback => "loopback",
            Locality::AnyInterface => "any",
            Locality::Remote => "remote",
        }
    }

    #[test]
    fn every_spelling_in_the_shared_table() {
        let rows = table();
        assert!(rows.len() > 40, "the table is read: {} rows", rows.len());
        let wrong: Vec<String> = rows
            .iter()
            .filter(|(spelling, class)| name(classify(spelling)) != *class)
            .map(|(spelling, class)| {
                format!(
                    "{spelling}: expected {class}, got {}",
                    name(classify(spelling))
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn local_and_loopback_follow_the_class() {
        assert!(is_local("http://0.0.0.0:5050") && !is_loopback("http://0.0.0.0:5050"));
        assert!(is_local("http://127.1:5050") && is_loopback("http://127.1:5050"));
        assert!(!is_local("https://sts.amazonaws.com"));
        assert_eq!(classify_host("::1"), Locality::Loopback);
        assert_eq!(classify_host("[::1]"), Locality::Loopback);
        assert_eq!(classify_host("::"), Locality::AnyInterface);
        assert_eq!(classify_host("127.1"), Locality::Loopback);
        assert_eq!(classify_host("example.com"), Locality::Remote);
    }

    #[test]
    fn host_port_is_normalised() {
        assert_eq!(
            host_port("http://127.1:5050"),
            Some(("127.0.0.1".into(), 5050))
        );
        assert_eq!(host_port("[::1]:7233"), Some(("::1".into(), 7233)));
        assert_eq!(
            host_port("https://LOCALHOST"),
            Some(("localhost".into(), 443))
        );
        assert_eq!(
            host_port("http://user@2130706433:5050/x"),
            Some(("127.0.0.1".into(), 5050))
        );
        assert_eq!(host_port("not a url"), None);
    }

    /// Non-ASCII hosts go through UTS 46 mapping, as a browser and the WHATWG parser read them
    /// (whichever Unicode back end `idna` is built with): full-width letters and digits and
    /// ideographic full stops spell loopback too; a mapped name elsewhere stays remote.
    #[test]
    fn non_ascii_spellings_are_mapped_as_the_whatwg_parser_does() {
        let cases = [
            (
                "http://\u{ff4c}\u{ff4f}\u{ff43}\u{ff41}\u{ff4c}\u{ff48}\u{ff4f}\u{ff53}\u{ff54}:5050",
                Locality::Loopback,
            ),
            (
                "http://\u{ff11}\u{ff12}\u{ff17}\u{3002}0\u{3002}0\u{3002}\u{ff11}:5050",
                Locality::Loopback,
            ),
            ("http://LOCAL\u{0048}OST\u{3002}:5050", Locality::Loopback),
            ("http://b\u{00fc}cher.example:5050", Locality::Remote),
            ("http://xn--bcher-kva.example:5050", Locality::Remote),
        ];
        for (endpoint, want) in cases {
            assert_eq!(classify(endpoint), want, "{endpoint}");
        }
        assert_eq!(
            host_port("http://b\u{00fc}cher.example:5050"),
            Some(("xn--bcher-kva.example".into(), 5050))
        );
    }
}

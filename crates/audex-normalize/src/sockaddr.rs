//! SOCKADDR `saddr=` (hex of a struct sockaddr) to family, address, port, path.
use audex_proto::v1::Network;

/// Decodes a sockaddr as the kernel copied it from the syscall (host byte order
/// for the family; network byte order for ports and addresses).
pub fn decode(bytes: &[u8]) -> Option<Network> {
    if bytes.len() < 2 {
        return None;
    }
    let family = u16::from_le_bytes([bytes[0], bytes[1]]);
    let mut n = Network::default();
    match family {
        1 => {
            n.family = "unix".into();
            let path = &bytes[2..];
            n.path = if path.first() == Some(&0) {
                let end = path.len();
                format!(
                    "@{}",
                    String::from_utf8_lossy(&path[1..end]).trim_end_matches('\0')
                )
            } else {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                String::from_utf8_lossy(&path[..end]).into_owned()
            };
        }
        2 => {
            n.family = "inet".into();
            if bytes.len() >= 8 {
                n.port = Some(u16::from_be_bytes([bytes[2], bytes[3]]) as u32);
                n.address =
                    std::net::Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]).to_string();
            }
        }
        10 => {
            n.family = "inet6".into();
            if bytes.len() >= 24 {
                n.port = Some(u16::from_be_bytes([bytes[2], bytes[3]]) as u32);
                let mut a = [0u8; 16];
                a.copy_from_slice(&bytes[8..24]);
                n.address = std::net::Ipv6Addr::from(a).to_string();
            }
        }
        16 => {
            n.family = "netlink".into();
            if bytes.len() >= 8 {
                n.port = Some(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]));
            }
        }
        0 => n.family = "unspec".into(),
        17 => n.family = "packet".into(),
        40 => n.family = "vsock".into(),
        other => n.family = format!("af{other}"),
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use audex_parse::decode_hex;

    #[test]
    fn inet_and_unix() {
        let n = decode(&decode_hex(b"02000035C0A80001000000000000000000").unwrap()).unwrap();
        assert_eq!(
            (n.family.as_str(), n.address.as_str(), n.port),
            ("inet", "192.168.0.1", Some(53))
        );
        let u = decode(&decode_hex(b"01002F72756E2F7379736C6F6700").unwrap()).unwrap();
        assert_eq!(
            (u.family.as_str(), u.path.as_str()),
            ("unix", "/run/syslog")
        );
        let v6 = decode(
            &decode_hex(b"0A001F90000000000000000000000000000000000000000100000000").unwrap(),
        )
        .unwrap();
        assert_eq!((v6.address.as_str(), v6.port), ("::1", Some(8080)));
    }
}

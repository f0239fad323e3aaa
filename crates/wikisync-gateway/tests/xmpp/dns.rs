//! A minimal DNS server for the federation test, on a UDP port of 127.0.0.1, so two XMPP
//! servers on one machine find each other's s2s address without touching the machine's
//! resolver. For each name of a hosts file it answers `A` with the address and the s2s `SRV`
//! record `_xmpp-server._tcp.<name>` with port 5269 on a target named by the address itself
//! (ejabberd resolves SRV through DNS but the target through the C library, which takes an
//! address literal). Other record types of a known name get an empty answer; unknown names
//! get NXDOMAIN.

use std::collections::HashMap;
use std::net::{Ipv4Addr, UdpSocket};

/// A running DNS server (a thread; it ends with the test process).
pub(crate) struct Dns {
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Dns {
    /// Serves the `IP name...` lines of `hosts`.
    pub(crate) fn start(hosts: &str) -> Self {
        let mut table = HashMap::new();
        for line in hosts.lines() {
            let mut words = line.split_whitespace();
            let Some(ip) = words.next().and_then(|w| w.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            for name in words {
                table.insert(name.to_ascii_lowercase(), ip);
            }
        }
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        let port = socket.local_addr().expect("bound").port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((len, from)) = socket.recv_from(&mut buf) {
                if let Some(reply) = answer(&buf[..len], &table) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Self { port }
    }
}

/// The reply to one query, or `None` for a packet that is not one.
fn answer(query: &[u8], table: &HashMap<String, Ipv4Addr>) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    // The question: labels up to the root, then QTYPE and QCLASS.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let srv = labels.len() > 2 && labels[..2] == ["_xmpp-server", "_tcp"];
    let name = if srv { &labels[2..] } else { &labels[..] }.join(".");
    let ip = table.get(&name);
    let mut records = Vec::new();
    match (ip, qtype, srv) {
        // A pointer to the question's name, type A, class IN, TTL 60 s, the address.
        (Some(ip), 1, false) => {
            records.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            records.extend_from_slice(&ip.octets());
        }
        // Type SRV: priority 0, weight 0, port 5269, the target.
        (Some(ip), 33, true) => {
            let mut target = Vec::new();
            for label in ip.to_string().split('.') {
                target.push(u8::try_from(label.len()).ok()?);
                target.extend_from_slice(label.as_bytes());
            }
            target.push(0);
            let rdlength = u16::try_from(6 + target.len()).ok()?;
            records.extend_from_slice(&[0xc0, 0x0c, 0, 33, 0, 1, 0, 0, 0, 60]);
            records.extend_from_slice(&rdlength.to_be_bytes());
            records.extend_from_slice(&[0, 0, 0, 0]);
            records.extend_from_slice(&5269u16.to_be_bytes());
            records.extend_from_slice(&target);
        }
        _ => {}
    }
    let count = u8::from(!records.is_empty());
    let rcode = if ip.is_some() && (srv == (qtype == 33)) {
        0
    } else {
        3
    };
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[..2]);
    // QR, AA, the client's RD, RA; the response code.
    reply.extend_from_slice(&[0x84 | (query[2] & 0x01), 0x80 | rcode]);
    reply.extend_from_slice(&[0, 1, 0, count, 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    reply.extend_from_slice(&records);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pubsub.b.test A?` as Erlang's resolver sends it.
    const QUERY: &str = "00010100000100000000000006707562737562016204746573740000010001";

    fn query(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_queries_of_known_names_are_answered_over_udp() {
        let dns = Dns::start("127.9.8.7 b.test pubsub.b.test\n");
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        socket
            .send_to(&query(QUERY), ("127.0.0.1", dns.port))
            .unwrap();
        let mut buf = [0u8; 512];
        let len = socket.recv(&mut buf).unwrap();
        let reply = &buf[..len];
        assert_eq!(&reply[..2], &[0, 1], "same id");
        assert_eq!(reply[3] & 0x0f, 0, "NOERROR");
        assert_eq!(&reply[6..8], &[0, 1], "one answer");
        assert_eq!(&reply[len - 4..], &[127, 9, 8, 7]);
        // AAAA of the same name: no answer; an unknown name: NXDOMAIN.
        let mut aaaa = query(QUERY);
        let n = aaaa.len();
        aaaa[n - 3] = 28;
        let table: HashMap<String, Ipv4Addr> =
            [("pubsub.b.test".to_owned(), Ipv4Addr::new(127, 9, 8, 7))].into();
        let r = answer(&aaaa, &table).unwrap();
        assert_eq!((r[3] & 0x0f, &r[6..8]), (0, &[0u8, 0][..]));
        let r = answer(&query(QUERY), &HashMap::new()).unwrap();
        assert_eq!(r[3] & 0x0f, 3);
        // The s2s SRV record: port 5269 on a target named by the address.
        let mut srv = vec![0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["_xmpp-server", "_tcp", "pubsub", "b", "test"] {
            srv.push(u8::try_from(label.len()).unwrap());
            srv.extend_from_slice(label.as_bytes());
        }
        srv.extend_from_slice(&[0, 0, 33, 0, 1]);
        let r = answer(&srv, &table).unwrap();
        assert_eq!((r[3] & 0x0f, r[7]), (0, 1), "one SRV answer");
        let tail = &r[srv.len()..];
        assert_eq!(&tail[2..4], &[0, 33]);
        assert_eq!(&tail[16..18], &5269u16.to_be_bytes());
        assert_eq!(&tail[18..], b"\x03127\x019\x018\x017\x00");
    }
}

//! Random events for the writers' tests: every field set or not, strings with
//! quotes, backslashes, control characters and non-ASCII, optional zeros,
//! times across the range with every fraction length.
use audex_proto::v1::*;
use audex_proto::Timestamp;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        3 => "[a-z/._-]{1,12}",
        2 => any::<String>(),
        1 => "[\"\\\\\u{0}-\u{1f}\u{7f}é€😀 a]{0,8}",
        // Long runs with a byte to escape somewhere in the middle or at the end.
        1 => "[a-zé ]{0,40}[\"\\\\\u{0}-\u{1f}]{0,2}[a-z/ ]{0,40}",
    ]
}

pub fn texts() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

pub fn time() -> impl Strategy<Value = Timestamp> {
    let nanos = prop_oneof![
        Just(0i32),
        (0i32..1000).prop_map(|m| m * 1_000_000),
        (0i32..1_000_000).prop_map(|u| u * 1000),
        0i32..1_000_000_000,
    ];
    let seconds = prop_oneof![
        -62_167_219_200i64..=253_402_300_799,
        1_600_000_000i64..1_900_000_000,
        Just(0i64),
        Just(-1i64),
        any::<i64>(),
    ];
    (seconds, prop_oneof![9 => nanos, 1 => any::<i32>()])
        .prop_map(|(seconds, nanos)| Timestamp { seconds, nanos })
}

prop_compose! {
    pub fn syscall()(name in text(), number in of(any::<u32>()), arch in text(), exit in of(any::<i64>()),
                 errno in text(), args in texts()) -> Syscall {
        Syscall { name, number, arch, exit, errno, args }
    }
}

prop_compose! {
    pub fn actor()(ids in vec(of(any::<u32>()), 10), names in vec(text(), 9), tty in text()) -> Actor {
        Actor {
            auid: ids[0], uid: ids[1], euid: ids[2], suid: ids[3], fsuid: ids[4], gid: ids[5],
            egid: ids[6], sgid: ids[7], fsgid: ids[8], session: ids[9], tty,
            auid_name: names[0].clone(), uid_name: names[1].clone(), euid_name: names[2].clone(),
            suid_name: names[3].clone(), fsuid_name: names[4].clone(), gid_name: names[5].clone(),
            egid_name: names[6].clone(), sgid_name: names[7].clone(), fsgid_name: names[8].clone(),
        }
    }
}

prop_compose! {
    pub fn process()(pid in of(any::<u32>()), ppid in of(any::<u32>()), s in vec(text(), 6),
                 args in texts(), parent in of((text(), text(), texts())),
                 peer in of((text(), of(any::<u32>()))), labels in texts(),
                 cut in prop_oneof![Just((0u32, 0u64)), (any::<u32>(), any::<u64>())]) -> Process {
        Process {
            pid, ppid, exe: s[0].clone(), comm: s[1].clone(), cwd: s[2].clone(), args,
            command_line: s[3].clone(), title: s[4].clone(),
            parent: parent.map(|(exe, comm, args)| Parent { exe, comm, args }),
            label: s[5].clone(),
            peer: peer.map(|(address, port)| Peer { address, port }),
            labels, args_cut: cut.0, args_bytes_cut: cut.1,
        }
    }
}

prop_compose! {
    pub fn file()(s in vec(text(), 8), inode in of(any::<u64>()), ouid in of(any::<u32>()),
              ogid in of(any::<u32>())) -> File {
        File {
            path: s[0].clone(), name: s[1].clone(), nametype: s[2].clone(), inode,
            dev: s[3].clone(), mode: s[4].clone(), ouid, ogid, ouid_name: s[5].clone(),
            ogid_name: s[6].clone(), label: s[7].clone(),
        }
    }
}

prop_compose! {
    pub fn parts()(network in of((text(), text(), of(any::<u32>()), text())),
               container in of((text(), text())),
               k8s in of((vec(text(), 5), btree_map(text(), text(), 0..3))),
               lost in of((any::<u64>(), any::<u64>(), any::<u64>(), text())),
               records in vec((text(), text()), 0..3),
               chain in of((any::<u64>(), vec(any::<u8>(), 0..40), vec(any::<u8>(), 0..40))))
               -> (Option<Network>, Option<Container>, Option<Kubernetes>, Option<Lost>,
                   Vec<RawRecord>, Option<Chain>) {
        (
            network.map(|(family, address, port, path)| Network { family, address, port, path }),
            container.map(|(id, runtime)| Container { id, runtime }),
            k8s.map(|(s, labels)| Kubernetes {
                namespace: s[0].clone(), pod: s[1].clone(), pod_uid: s[2].clone(),
                container: s[3].clone(), node: s[4].clone(), labels,
            }),
            lost.map(|(count, first_serial, last_serial, source)| Lost { count, first_serial, last_serial, source }),
            records.into_iter().map(|(r#type, text)| RawRecord { r#type, text }).collect(),
            chain.map(|(sequence, mac, prev_mac)| Chain { sequence, mac, prev_mac }),
        )
    }
}

prop_compose! {
    pub fn summaries()(suppressed in of((any::<u64>(), of(time()), of(time()), text())),
                   repeat in of((any::<u64>(), of(time()), of(time()))))
                   -> (Option<Suppressed>, Option<Repeat>) {
        (
            suppressed.map(|(count, first_time, last_time, reason)| Suppressed { count, first_time, last_time, reason }),
            repeat.map(|(count, first_time, last_time)| Repeat { count, first_time, last_time }),
        )
    }
}

prop_compose! {
    // Boxed parts: the nested strategies overflow a debug build's test stack.
    pub fn event()(s in vec(text(), 8), time in of(time()), serial in prop_oneof![Just(0u64), any::<u64>()],
               keys in texts(), syscall in of(syscall().boxed()), actor in of(actor().boxed()),
               process in of(process().boxed()), files in vec(file().boxed(), 0..3),
               parts in parts().boxed(), summaries in summaries().boxed(),
               redacted in texts(), truncated in any::<bool>(),
               data in btree_map(text(), text(), 0..4),
               record_count in prop_oneof![Just(0u32), any::<u32>()], controls in texts()) -> AuditEvent {
        let (network, container, k8s, lost, records, chain) = parts;
        let (suppressed, repeat) = summaries;
        AuditEvent {
            id: s[0].clone(), time, serial, node: s[1].clone(), category: s[2].clone(),
            action: s[3].clone(), outcome: s[4].clone(), access: s[5].clone(), keys, syscall,
            actor, process, files, network, container, k8s, tenant: s[6].clone(), redacted,
            lost, records, record_type: s[7].clone(), truncated, data, record_count, controls,
            chain, suppressed, repeat,
        }
    }
}

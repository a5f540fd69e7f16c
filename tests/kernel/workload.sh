#!/bin/bash
# A bounded file/process workload in DIR (which must be watched by the caller).
# Prints one line per action: "<action> <pid> <path>" for tests to match events.
# Usage: workload.sh DIR
set -euo pipefail
DIR=$1
cd "$DIR"
run() { # run ACTION PATH CMD...: runs CMD in its own process and reports its pid
    local action=$1 path=$2; shift 2
    "$@" &
    local pid=$!
    wait "$pid" || true
    echo "$action $pid $path"
}
run created "$DIR/created.txt" sh -c 'echo hello > created.txt'
run opened-write "$DIR/created.txt" sh -c 'echo more >> created.txt'
run opened-read "$DIR/created.txt" sh -c 'exec cat created.txt > /dev/null'
run changed-mode "$DIR/created.txt" chmod 640 created.txt
run changed-owner "$DIR/created.txt" chown 65534:65534 created.txt
run renamed "$DIR/renamed.txt" mv created.txt renamed.txt
run created-dir "$DIR/sub" mkdir sub
run created-relative "$DIR/rel.txt" sh -c 'cd sub && exec touch ../rel.txt'
run deleted-dir "$DIR/sub" rmdir sub
run created-odd-name "$DIR/with space é.txt" touch "with space é.txt"
run deleted-odd-name "$DIR/with space é.txt" rm "with space é.txt"
run linked "$DIR/link.txt" ln -s renamed.txt link.txt
run truncated "$DIR/rel.txt" python3 -c 'import os; os.truncate("rel.txt", 0)'
run changed-timestamps "$DIR/rel.txt" python3 -c 'import os; os.utime("rel.txt", (1700000000, 1700000000))'
run changed-attributes "$DIR/rel.txt" python3 -c 'import os; os.setxattr("rel.txt", "user.audex", b"1")'
cp /bin/true "$DIR/watched-true"
chmod 755 "$DIR/watched-true"
# argv over 8 KiB: one 9000-byte argument (split by the kernel into a3[0], a3[1], ...)
# plus many ordinary ones, one with a space and one with a quote (hex-encoded).
BIG=$(head -c 9000 /dev/zero | tr '\0' 'x')
run executed "$DIR/watched-true" "$DIR/watched-true" first "with space" "quote\"d" "$BIG" $(seq 1 400)
echo secret > secret.txt
chmod 600 secret.txt
chmod 755 "$DIR"
# A failed open as another user (nobody) with a login uid (1000) set.
run failed-open "$DIR/secret.txt" sh -c 'echo 1000 > /proc/self/loginuid && exec setpriv --reuid=65534 --regid=65534 --clear-groups cat secret.txt' 2>/dev/null
run deleted "$DIR/renamed.txt" rm renamed.txt link.txt rel.txt secret.txt watched-true

# Shared by the daemon benchmarks (sipbench, soak, redisbench, signbench): a
# test PKI, a configuration for one worker on loopback ports of their own,
# the load generator's command line, and processes' CPU time.  The caller sets B (build directory) and
# W (work directory).

# The PKI, and in LOADER the load generator's command line signing with its
# key (word-split on use: the paths are mktemp's)
bench_pki() {
    "$B/cidguard" pki init "$W/pki" --spc 1234 >/dev/null
    mkdir -p "$W/state/certs"
    cp "$W/pki/sp-1234.pem" "$W/state/certs/"
    LOADER="$B/cidguard-sipload --key $W/pki/sp-1234.key --x5u http://127.0.0.1:28085/certs/sp-1234.pem --target 127.0.0.1:25060"
}

# bench_conf FILE [LINES FOR [server]] [SECTIONS AFTER]
bench_conf() {
    cat >"$1" <<CONF
[server]
state_dir = $W/state
workers = 1
http_listen = 127.0.0.1:28085
sip_verify_listen = 127.0.0.1:25060
sip_sign_listen = 127.0.0.1:25070
${2:-}
[verify]
trust = $W/pki/root.pem
crl = $W/pki/crl.pem
[fetch]
allow = 127.0.0.1/32
allow_http = yes
${3:-}
CONF
}

# CPU time (clock ticks, user and system) the processes $1 have used so far
cpu() {
    t=0
    for p in $1; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo $t
}

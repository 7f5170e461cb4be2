#!/bin/sh
# The shared libraries export the public API and nothing else:
#   - every exported symbol starts with cg_ and none with cg__ (internal);
#   - every function or variable declared CG_EXTERN in include/cidguard/*.h
#     is exported by one of the libraries (a declaration without a
#     definition, or a definition left hidden, fails);
#   - each library needs only the libraries it is documented to need
#     (docs/library.md).
# usage: check-exports.sh BUILD_DIR SOURCE_DIR
set -u
B=$1
S=$2
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}
exports=$(mktemp)
trap 'rm -f "$exports"' EXIT

for lib in libcidguard.so libcidguard-atis.so libcidguard-policy.so libcidguard-log.so; do
    so="$B/$lib"
    [ -e "$so" ] || {
        bad "$so missing"
        continue
    }
    # Sanitizer runtimes add their own (__asan_*, __odr_asan.*, __ubsan_*).
    syms=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -Ev '^_+(asan|odr_asan|ubsan|tsan|sancov|sanitizer)')
    n=$(echo "$syms" | grep -c .)
    internal=$(echo "$syms" | grep '^cg__' || true)
    foreign=$(echo "$syms" | grep -v '^cg_' || true)
    [ -z "$internal" ] || bad "$lib exports internal symbols: $(echo $internal)"
    [ -z "$foreign" ] || bad "$lib exports symbols outside cg_: $(echo $foreign)"
    echo "$syms" | sed "s|^|$lib |" >>"$exports"
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "$lib.0" ] || bad "$lib: SONAME is '$soname', not $lib.0"
    needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    case $lib in
    libcidguard.so) allowed='libcrypto.so.* libc.so.* ld-linux*' ;;
    libcidguard-atis.so) allowed='libcidguard.so.0 libc.so.* ld-linux*' ;;
    libcidguard-policy.so) allowed='libcidguard.so.0 libhiredis.so.* libjansson.so.* libcrypto.so.* libc.so.* ld-linux*' ;;
    libcidguard-log.so) allowed='libcidguard.so.0 libcidguard-policy.so.0 libsqlite3.so.* libz.so.* libjansson.so.* libc.so.* ld-linux*' ;;
    esac
    for d in $needed; do
        ok=0
        for a in $allowed; do
            # shellcheck disable=SC2254
            case $d in $a) ok=1 ;; esac
        done
        case $d in libasan* | libubsan* | libtsan* | libstdc++* | libm.so* | libgcc_s*) ok=1 ;; esac
        [ $ok = 1 ] || bad "$lib needs $d"
    done
    echo "ok: $lib: $n symbols exported, needs: $needed"
done

# Every CG_EXTERN declaration of the public headers is exported.
declared=$(cat "$S"/include/cidguard/*.h | tr '\n' ' ' | grep -o 'CG_EXTERN[^;{]*' |
    sed 's/(.*//; s/\[.*//' | grep -o 'cg_[A-Za-z0-9_]*$' | sort -u)
nd=0
for f in $declared; do
    nd=$((nd + 1))
    grep -q " $f\$" "$exports" || bad "$f is declared CG_EXTERN in include/cidguard but no library exports it"
done
# And every cg_ function of the library that a public header declares is
# exported: a declaration added without CG_EXTERN would leave it hidden.
if [ -e "$B/libcidguard-internal.a" ]; then
    defined=$(nm --defined-only "$B/libcidguard-internal.a" 2>/dev/null |
        awk '$2 ~ /^[TDRB]$/ {print $3}' | grep '^cg_[a-z0-9]' | sort -u)
    for f in $defined; do
        grep -q " $f\$" "$exports" && continue
        if cat "$S"/include/cidguard/*.h | grep -q "\\(^\\|[^A-Za-z0-9_]\\)$f("; then
            bad "$f is declared in include/cidguard without CG_EXTERN: it is not exported"
        fi
    done
else
    bad "$B/libcidguard-internal.a missing"
fi
total=$(wc -l <"$exports")
[ "$nd" -gt 100 ] || bad "only $nd CG_EXTERN declarations found: the header scan is broken"
echo "ok: $nd public declarations, $total exported symbols in all"
if [ $fail = 0 ]; then
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"
fi
exit $fail

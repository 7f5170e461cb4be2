#!/bin/sh
# Installs the build into a temporary prefix (cmake --install), checks the
# layout packagers rely on, builds examples/verify against the installed
# library with pkg-config alone, verifies a signed call with it, and checks
# that a verify-only program needs libcidguard.so.0 and nothing beyond
# libcrypto and libc; a policy program gets libcidguard-policy.so.0 too.
# usage: install-example.sh BUILD_DIR SOURCE_DIR
set -u
B=$(cd "$1" && pwd)
S=$(cd "$2" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() {
    echo "ok: $*"
    pass=$((pass + 1))
}
bad() {
    echo "FAIL: $*"
    fail=$((fail + 1))
}

P=$T/usr
cmake --install "$B" --prefix "$P" >"$T/install.log" 2>&1 || {
    cat "$T/install.log"
    echo "0 passed, 1 failed"
    exit 1
}
libdir=$(dirname "$(find "$P" -name libcidguard.so.0 | head -1)")
[ -n "$libdir" ] && [ "$libdir" != . ] || {
    bad "libcidguard.so.0 not installed"
    find "$P" | sort
    echo "$pass passed, $fail failed"
    exit 1
}
rel=${libdir#"$P"/}
ok "libraries in $rel"

# The layout.
for f in bin/cidguard sbin/cidguardd \
    "$rel/libcidguard.so" "$rel/libcidguard.so.0" "$rel/libcidguard-policy.so.0" \
    "$rel/libcidguard-log.so.0" "$rel/libcidguard-atis.so.0" \
    "$rel/pkgconfig/cidguard.pc" "$rel/pkgconfig/cidguard-policy.pc" \
    "$rel/pkgconfig/cidguard-log.pc" "$rel/pkgconfig/cidguard-atis.pc" \
    include/cidguard/cidguard.h include/cidguard/export.h include/cidguard/version.h \
    include/cidguard/verify.h share/doc/cidguard/README.md share/doc/cidguard/cidguardd.md \
    share/doc/cidguard/examples/cidguardd.conf; do
    if [ -e "$P/$f" ]; then ok "installed $f"; else bad "not installed: $f"; fi
done
extra=$(find "$P/bin" "$P/sbin" -type f | grep -v -e '/bin/cidguard$' -e '/sbin/cidguardd$' || true)
[ -z "$extra" ] && ok "no bench or test programs installed" || bad "installed: $extra"
[ -z "$(find "$P" -name '*.a')" ] && ok "no static archive installed" || bad "a static archive is installed"
v=$(sed -n 's/^#define CG_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' "$P/include/cidguard/version.h" | tr '\n' . | sed 's/\.$//')
[ -e "$P/$rel/libcidguard.so.$v" ] && ok "libcidguard.so.$v" || bad "no libcidguard.so.$v"

# Each installed header compiles on its own.
for h in "$P"/include/cidguard/*.h; do
    echo "#include <cidguard/$(basename "$h")>" >"$T/h.c"
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$P/include" "$T/h.c" 2>"$T/h.err" ||
        bad "$(basename "$h") does not compile alone: $(head -3 "$T/h.err")"
done
ok "every installed header compiles alone"

export PKG_CONFIG_PATH="$P/$rel/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR=
[ "$(pkg-config --modversion cidguard)" = "$v" ] && ok "pkg-config cidguard version $v" ||
    bad "pkg-config --modversion cidguard: $(pkg-config --modversion cidguard 2>&1)"
libs=$(pkg-config --libs cidguard)
case "$libs" in
*"-L$P/$rel"*"-lcidguard"*) ok "pkg-config --libs cidguard: $libs" ;;
*) bad "pkg-config --libs cidguard: $libs" ;;
esac
case "$(pkg-config --libs cidguard-log)" in
*-lcidguard-log*-lcidguard-policy*-lcidguard*) ok "pkg-config --libs cidguard-log: $(pkg-config --libs cidguard-log)" ;;
*) bad "pkg-config --libs cidguard-log: $(pkg-config --libs cidguard-log)" ;;
esac

# The example, built as its README says.
cp -r "$S/examples/verify" "$T/verify"
if make -s -C "$T/verify" CFLAGS="-O2 -Wall -Wextra -Werror" >"$T/make.log" 2>&1; then
    ok "examples/verify builds with pkg-config"
else
    bad "examples/verify does not build: $(cat "$T/make.log")"
    echo "$pass passed, $fail failed"
    exit 1
fi
needed=$(readelf -d "$T/verify/verify" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
others=$(echo "$needed" | tr ' ' '\n' | grep . | grep -v -e '^libcidguard\.so\.0$' -e '^libcrypto\.so\.' -e '^libc\.so\.' || true)
case " $needed " in
*" libcidguard.so.0 "*) [ -z "$others" ] && ok "verify needs only: $needed" || bad "verify also needs: $others" ;;
*) bad "verify does not need libcidguard.so.0: $needed" ;;
esac
# Nor does the library it loads bring in any of the others.
if LD_LIBRARY_PATH="$P/$rel" ldd "$T/verify/verify" | grep -E 'hiredis|sqlite|libz\.|jansson|cidguard-'; then
    bad "loading verify loads more than libcidguard and libcrypto"
else
    ok "loading verify loads no hiredis, SQLite, zlib, jansson or companion library"
fi

# A signed call passes and a spoofed one does not.
CG="$P/bin/cidguard"
"$CG" pki init "$T/pki" --spc 1234 >/dev/null || bad "cidguard pki init"
ID=$("$CG" sign --key "$T/pki/sp-1234.key" --x5u https://cr.example.net/sp-1234.pem \
    --orig +442079460000 --dest +14155550100 --attest A)
out=$(LD_LIBRARY_PATH="$P/$rel" "$T/verify/verify" "$ID" "sip:+442079460000@sbc;user=phone" \
    tel:+14155550100 "$T/pki/sp-1234.pem" "$T/pki/root.pem" "$T/pki/crl.pem")
rc=$?
[ $rc = 0 ] && echo "$out" | grep -q 'verstat=TN-Validation-Passed' &&
    ok "installed example verifies a signed call: $out" || bad "signed call: exit $rc: $out"
out=$(LD_LIBRARY_PATH="$P/$rel" "$T/verify/verify" "$ID" +442079460001 +14155550100 \
    "$T/pki/sp-1234.pem" "$T/pki/root.pem")
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q 'reason=orig_mismatch' &&
    ok "installed example rejects a spoofed caller: $(echo "$out" | head -1)" ||
    bad "spoofed call: exit $rc: $out"

# A policy program links the policy library and the core, nothing of the logs.
cat >"$T/pol.c" <<'C'
#include <cidguard/error.h>
#include <cidguard/policy.h>
#include <stdio.h>
int main(void)
{
    struct cg_policy_config cfg = {.uk_rules = true};
    struct cg_policy *p;
    if (cg_policy_config_set_action(&cfg, CG_PR_CALLER_UNREADABLE, CG_ACTION_LABEL) != CG_OK ||
        cg_policy_new(&p, &cfg) != CG_OK)
        return 1;
    printf("%s %s\n", cg_policy_reason_code(CG_PR_CALLER_UNREADABLE), cg_verstat_str(CG_VERSTAT_NONE));
    cg_policy_free(p);
    return 0;
}
C
# shellcheck disable=SC2046
if ${CC:-cc} -Wall -Werror $(pkg-config --cflags cidguard-policy) -o "$T/pol" "$T/pol.c" \
    $(pkg-config --libs cidguard-policy) 2>"$T/pol.err" &&
    LD_LIBRARY_PATH="$P/$rel" "$T/pol" >/dev/null; then
    needed=$(readelf -d "$T/pol" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    case "$needed" in
    *libcidguard-log* | *sqlite* | *libz.so*) bad "a policy program needs $needed" ;;
    *libcidguard-policy.so.0*) ok "a policy program needs: $needed" ;;
    *) bad "a policy program needs $needed" ;;
    esac
else
    bad "a policy program does not build or run: $(cat "$T/pol.err")"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]

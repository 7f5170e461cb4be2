#!/bin/sh
# Checks that the modules of one directory (default apps/cidguardd) include
# each other without a cycle.  x.c and x.h are one module x; module A
# depends on module B when A's .c or .h has #include "B.h" and B.h is in the
# directory (system and library headers are not modules).  Prints each
# module's dependencies and exits 0, or prints every cycle found and exits 1.
#
#   sh scripts/check-includes.sh [directory]
set -e
cd "$(dirname "$0")/.."
DIR=${1:-apps/cidguardd}
[ -d "$DIR" ] || { echo "check-includes: no directory $DIR" >&2; exit 2; }

# One "module dependency" line per local include, then "module" alone for
# every module, so that one without dependencies is listed too.
edges=$(
    for f in "$DIR"/*.c "$DIR"/*.h; do
        [ -f "$f" ] || continue
        m=$(basename "$f"); m=${m%.*}
        echo "$m"
        sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\.h".*/\1/p' "$f" |
            while read -r dep; do
                if [ "$dep" != "$m" ] && [ -f "$DIR/$dep.h" ]; then
                    echo "$m $dep"
                fi
            done
    done | sort -u
)

echo "$edges" | awk -v dir="$DIR" '
    NF == 1 { mod[$1] = 1; next }
    NF == 2 { mod[$1] = 1; mod[$2] = 1; deps[$1] = deps[$1] " " $2; next }
    # Depth-first search; a dependency still on the path closes a cycle,
    # recorded once whichever module it was entered from.
    function visit(m,    n, d, i, j, k, c, key) {
        state[m] = 1
        path[++depth] = m
        n = split(deps[m], d, " ")
        for (i = 1; i <= n; i++) {
            if (state[d[i]] == 1) {
                for (j = depth; path[j] != d[i]; j--)
                    ;
                c = ""
                for (k = j; k <= depth; k++)
                    c = c path[k] " -> "
                c = c d[i]
                # the same cycle entered elsewhere: key on its sorted members
                key = ""
                for (k = j; k <= depth; k++)
                    member[k - j] = path[k]
                sortn = depth - j + 1
                for (k = 0; k < sortn; k++)
                    for (jj = k + 1; jj < sortn; jj++)
                        if (member[jj] < member[k]) { t = member[k]; member[k] = member[jj]; member[jj] = t }
                for (k = 0; k < sortn; k++)
                    key = key " " member[k]
                if (!(key in seen)) {
                    seen[key] = 1
                    cycles[++ncycles] = c
                }
            } else if (state[d[i]] == 0) {
                visit(d[i])
            }
        }
        depth--
        state[m] = 2
    }
    END {
        nm = 0
        for (m in mod)
            names[++nm] = m
        for (i = 1; i <= nm; i++)
            for (j = i + 1; j <= nm; j++)
                if (names[j] < names[i]) { t = names[i]; names[i] = names[j]; names[j] = t }
        for (i = 1; i <= nm; i++) {
            n = split(deps[names[i]], d, " ")
            for (a = 1; a <= n; a++)
                for (b = a + 1; b <= n; b++)
                    if (d[b] < d[a]) { t = d[a]; d[a] = d[b]; d[b] = t }
            line = ""
            for (a = 1; a <= n; a++)
                line = line " " d[a]
            printf "%s:%s\n", names[i], line
        }
        for (i = 1; i <= nm; i++)
            if (state[names[i]] == 0)
                visit(names[i])
        if (ncycles) {
            for (i = 1; i <= ncycles; i++)
                printf "include cycle in %s: %s\n", dir, cycles[i]
            exit 1
        }
        printf "no include cycle among the %d modules of %s\n", nm, dir
    }'

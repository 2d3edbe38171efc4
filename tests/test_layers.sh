#!/usr/bin/env bash
# The folders of src/ form layers (CMakeLists.txt's FACEAU_LAYERS, bottom first); a file may
# include headers of its own folder and of folders below it only, always folder-qualified
# ("cv/cv.h"), never the tests' umbrella internal.h.
. "$(dirname "$0")/testlib.sh" layers
cd "${FACEAU_SOURCE_DIR:?}" || exit 1
read -r -a layers < <(sed -n 's/^set(FACEAU_LAYERS \(.*\))$/\1/p' CMakeLists.txt)
[ ${#layers[@]} -ge 5 ] && ok || bad "no FACEAU_LAYERS list in CMakeLists.txt"
rank() { local i; for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
for dir in src/*/; do
    layer=$(basename "$dir")
    me=$(rank "$layer")
    [ "$me" -ge 0 ] || { bad "src/$layer is not in FACEAU_LAYERS"; continue; }
    for f in "$dir"*.[ch]; do
        [ -e "$f" ] || continue
        while IFS= read -r inc; do
            case "$inc" in
                faceau.h) continue ;;
                */*) them=$(rank "${inc%%/*}") ;;
                *) bad "$f includes \"$inc\" (not folder-qualified)"; continue ;;
            esac
            if [ "$them" -lt 0 ] || [ "$them" -gt "$me" ]; then
                bad "$f (layer $layer) includes \"$inc\" from a layer above it"
            else
                ok
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
done
ls src/*.c >/dev/null 2>&1 && bad "sources directly in src/: $(ls src/*.c)" || ok
finish

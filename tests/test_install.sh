#!/usr/bin/env bash
# Installs faceau into a scratch prefix and builds a program against it the way a user would
# (pkg-config faceau), using only the public header: the example of faceau.h's top comment,
# on a real video with OpenFace's landmarks, plus the face detector, linked to the installed
# libfaceau.so; and that the shared library exports faceau_* functions only.
. "$(dirname "$0")/testlib.sh" install
cmake --install "$(dirname "$BIN")" --prefix "$T/prefix" > "$T/install.log" 2>&1 && ok || bad "install: $(cat "$T/install.log")"
[ -f "$T/prefix/include/faceau.h" ] && [ -x "$T/prefix/bin/faceau" ] && [ -f "$T/prefix/lib/libfaceau.a" ] \
    && [ -f "$T/prefix/lib/libfaceau.so" ] && [ -f "$T/prefix/lib/pkgconfig/faceau.pc" ] && ok || bad "installed files"
# hidden visibility: every defined dynamic symbol is a public faceau_* function
others=$(nm -D --defined-only "$T/prefix/lib/libfaceau.so" | awk '$2 ~ /^[TDBRVW]$/ && $3 !~ /^faceau_/ { print $3 }')
[ -z "$others" ] && ok || bad "libfaceau.so exports non-faceau symbols: $(echo $others | head -c 400)"
nm -D --defined-only "$T/prefix/lib/libfaceau.so" | grep -q ' T faceau_run_batch$' && ok || bad "faceau_run_batch not exported"
cat > "$T/user.c" <<'C'
#include <faceau.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    char err[4096];
    if (faceau_version_number() != FACEAU_VERSION_NUMBER) { fprintf(stderr, "library %d, header %d\n", faceau_version_number(), FACEAU_VERSION_NUMBER); return 1; }
    faceau_config cfg = faceau_default_config();
    faceau_au *au;
    if (faceau_au_open(&cfg, &au, err, sizeof err) != FACEAU_OK) { fprintf(stderr, "%s\n", err); return 1; }
    faceau_detector *det;
    if (faceau_detector_open(NULL, 1, &det, err, sizeof err) != FACEAU_OK) { fprintf(stderr, "%s\n", err); return 1; }
    faceau_source *src;
    if (faceau_source_open(argv[1], &src, err, sizeof err) != FACEAU_OK) { fprintf(stderr, "%s\n", err); return 1; }
    FILE *lm = fopen(argv[2], "r"); /* x0..x67 y0..y67 success, one frame per line */
    faceau_frame frame;
    int got, frames = 0, faces = 0;
    while (faceau_source_read(src, &frame, &got) == FACEAU_OK && got) {
        float l[136];
        int success = 0;
        for (int i = 0; i < 136; i++)
            if (fscanf(lm, "%f", &l[i]) != 1) return 1;
        if (fscanf(lm, "%d", &success) != 1) return 1;
        faceau_au_result r;
        if (faceau_au_add_frame(au, &frame, l, success, &r) != FACEAU_OK) { fprintf(stderr, "%s\n", faceau_au_last_error(au)); return 1; }
        if (frames == 0) {
            faceau_box boxes[8];
            faceau_detect(det, &frame, boxes, 8, &faces);
        }
        frames++;
    }
    size_t n = faceau_au_frame_count(au);
    double *I = malloc(n * FACEAU_N_AU_INTENSITY * sizeof *I), *P = malloc(n * FACEAU_N_AU_PRESENCE * sizeof *P);
    if (faceau_au_finish(au, I, P, n) != FACEAU_OK) return 1;
    /* the last frame's AU12 intensity and the face count of the first frame */
    printf("%d %d %.2f\n", frames, faces, I[(n - 1) * FACEAU_N_AU_INTENSITY + 8]);
    free(I); free(P);
    faceau_source_close(src);
    faceau_detector_close(det);
    faceau_au_close(au);
    return 0;
}
C
PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" cc -std=c11 -Wall -Wextra -Werror ${FACEAU_USER_CFLAGS:-} "$T/user.c" \
    $(PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" pkg-config --cflags --libs faceau) -o "$T/user" 2> "$T/cc.log" \
    && ok || bad "compile against the install: $(cat "$T/cc.log")"
name=1878_01_002_vladimir_putin
# landmarks and success of each frame, as plain numbers
awk -F', ' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "x_0") x = i; if ($i == "success") s = i }; next }
    { line = ""; for (i = 0; i < 136; i++) line = line $(x + i) " "; print line $s }' "$S/reference/fullprec/$name.csv" > "$T/lm.txt"
readelf -d "$T/user" | grep -q 'NEEDED.*libfaceau\.so' && ok || bad "the user program does not link libfaceau.so"
out=$(LD_LIBRARY_PATH="$T/prefix/lib" FACEAU_MODELS="$S/models" "$T/user" "$S/data/videos/$name.avi" "$T/lm.txt")
# OpenFace's AU12_r on the last frame, its frame count, and one face in the first frame
want=$(awk -F', ' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "AU12_r") c = i; next } { v = $c; n++ } END { print n, 1, v }' "$S/reference/$name.csv")
[ "$out" = "$want" ] && ok || bad "user program printed '$out', OpenFace says '$want'"
finish

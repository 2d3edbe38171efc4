/* fuzz/fuzz.h - what the libFuzzer targets share. Each fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput for one parser; built with clang -fsanitize=fuzzer (FACEAU_FUZZ=ON,
 * scripts/fuzz.sh) it explores, linked with replay.c (every build, ctest fuzz_replay_<name>)
 * it re-runs fuzz/regressions/<name>/: every input that ever crashed or blew a limit. */
#ifndef FACEAU_FUZZ_H
#define FACEAU_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to this process's scratch file named after tag (in $TMPDIR or /tmp) and returns
 * its path (a static buffer), or NULL if it cannot be written: for the parsers that read paths. */
const char *fuzz_scratch_file(const char *tag, const uint8_t *data, size_t size);

#endif

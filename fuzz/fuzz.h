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

/* The model targets read several files that name each other: their input is those files one
 * after another, each followed by this separator line (scripts/fuzz-seeds.py makes them so). */
#define FUZZ_FILE_SEP "\n--faceau-fuzz-file--\n"

/* Splits data at FUZZ_FILE_SEP into up to n pieces, writes piece i as names[i] in this
 * process's scratch directory named after tag (a piece the input lacks: no such file) and
 * returns the directory's path (a static buffer), or NULL if it cannot be written. */
const char *fuzz_scratch_dir(const char *tag, const uint8_t *data, size_t size,
                             const char *const *names, int n);

/* With FUZZ_VERBOSE set, prints what the parser said (status 0: "loaded"): to check that the
 * seeds are read whole and where an input stops (FUZZ_VERBOSE=1 replay_<name> FILE). */
void fuzz_report(const char *target, int status, const char *msg);

#endif

/* core/core.h - the bottom layer every other folder builds on (not installed): errors, checked
 * allocation, BGR images, OpenFace's matrix file formats, file paths and model lookup.
 *
 * Conventions (all of src/):
 *  - Every fallible function takes an fa_err* and returns a faceau_status; on failure it has
 *    filled err->msg with one line naming the file (or input) and the problem.
 *  - Images are BGR24 (OpenCV's channel order), row-major, owned by whoever allocated them.
 *  - Names start with fa_ (internal) or faceau_ (public).
 *  - Each folder includes only its own header and those of the folders below it:
 *    core <- cv <- nn, pdm <- detect, au <- io <- landmarks <- api (tests/test_layers.sh checks).
 */
#ifndef FACEAU_CORE_H
#define FACEAU_CORE_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "faceau.h"

/* ---- floating point: IEEE arithmetic as written, or no build ----------------------------
 * OpenFace's numbers are reproduced operation by operation, so the compiler must neither
 * reassociate (fast-math) nor fuse a*b+c into one FMA (contraction). Three guards, so that a
 * build system other than ours cannot silently drop -ffp-contract=off:
 *  - fast-math or finite-math-only stop the build here;
 *  - Clang contracts by default: the standard pragma below turns it off in every file (all of
 *    src/ includes this header first);
 *  - GCC contracts in GNU C mode whenever an FMA instruction is available (x86 -mfma/-march,
 *    ARM64): such a build stops here unless it is ISO C (-std=c11, as CMakeLists.txt builds)
 *    or says it passes -ffp-contract=off by defining FACEAU_FP_CONTRACT_OFF. CMakeLists.txt
 *    also compiles and runs a*b+c with the project's flags at configure time and stops if it
 *    comes out fused (cmake/fp_contract_check.c). */
#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "faceau must not be built with -ffast-math / -Ofast / -ffinite-math-only: it reproduces IEEE arithmetic bit for bit"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FP_FAST_FMA) && !defined(__STRICT_ANSI__) && \
    !defined(FACEAU_FP_CONTRACT_OFF)
#error "GCC fuses a*b+c into FMA in GNU C mode on this target: build with -std=c11, or with -ffp-contract=off -DFACEAU_FP_CONTRACT_OFF"
#endif

#define FA_N_LANDMARKS 68
#define FA_N_MODES 34      /* PDM non-rigid parameters */

/* ---- errors ---------------------------------------------------------------------------- */
typedef struct fa_err {
    faceau_status status;
    char msg[1024];
} fa_err;

/* Records status and a printf-style message in err (if non-NULL); returns status. */
faceau_status fa_fail(fa_err *err, faceau_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fa_err_clear(fa_err *err);
/* The public calls' error buffers: copies err's message into buf (size n; either may be 0/NULL)
 * when status is not FACEAU_OK, and returns status. */
faceau_status fa_err_to_buf(faceau_status status, const fa_err *err, char *buf, size_t n);

/* Checked allocation: on failure records FACEAU_ERR_NOMEM (naming what) and returns NULL. */
void *fa_malloc(size_t n, fa_err *err, const char *what);
void *fa_calloc(size_t count, size_t size, fa_err *err, const char *what);
/* fa_malloc for a large table kept for a model's lifetime (freed with fa_free_large, never
 * free): on Linux, its own 2 MB-aligned mapping advised for huge pages, so filling it costs a
 * fault per 2 MB, not per 4 KB, and freeing it gives the memory back at once. */
void *fa_malloc_large(size_t n, fa_err *err, const char *what);
void fa_free_large(void *p);
/* Many large tables of one model in shared blocks (huge pages where Linux offers them): each
 * table alone left a tail of 4 KB pages past its last whole 2 MB, and in the VMs this runs on a
 * 4 KB fault costs tens of microseconds (the landmark model made ~5,000 of them). Tables are
 * carved one after another from a reserved mapping whose untouched pages cost nothing; the
 * reservation's unused end is given back by fa_large_arena_trim. Start zeroed ({0}); not thread
 * safe (allocate before sharing the work out); everything goes at once with
 * fa_large_arena_free. Elsewhere each table is an ordinary allocation. */
typedef struct fa_large_chunk fa_large_chunk;
typedef struct fa_large_arena {
    fa_large_chunk *chunks; /* newest first */
} fa_large_arena;
/* n bytes, 64-byte aligned, zeroed (fresh pages). */
void *fa_large_arena_alloc(fa_large_arena *a, size_t n, fa_err *err, const char *what);
/* Gives back the end of the newest table p past its first n bytes (n <= its size; the end must
 * be untouched, as the next table starts there and tables start zeroed). */
void fa_large_arena_shrink(fa_large_arena *a, void *p, size_t n);
/* Unmaps the reservations' unused ends (once the model is loaded). */
void fa_large_arena_trim(fa_large_arena *a);
void fa_large_arena_free(fa_large_arena *a);

/* ---- images ---------------------------------------------------------------------------- */
typedef struct fa_image {
    int width, height;
    int stride;   /* bytes per row, >= 3*width */
    uint8_t *bgr; /* owned by the creator of the struct */
} fa_image;

faceau_status fa_image_alloc(fa_image *img, int width, int height, fa_err *err);
void fa_image_free(fa_image *img);

/* ---- CPU features (cpu.c) --------------------------------------------------------------- */
/* FA_BUILD_AVX2: this build carries AVX2 copies of the hot loops (x86 with GCC/Clang, and not
 * configured with -DFACEAU_NO_AVX2=ON). Each copy lives in a *_avx2.c file beside its portable
 * twin and gives the same bits (conv's FMA kernel aside: see nn/conv.c). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(FACEAU_NO_AVX2)
#define FA_BUILD_AVX2 1
#else
#define FA_BUILD_AVX2 0
#endif
/* FA_CPU_AVX512 (AVX-512F with the OS saving its registers, with AVX2 and FMA): the few kernels
 * whose sixteen lanes do the very same operations as their AVX2 twins' eight (the CCNF neurons,
 * ccnf_avx512.c; the validator's convolution, validator_avx2.c), so the same bits;
 * FACEAU_NO_AVX512 set as FACEAU_NO_AVX2 takes it alone away. */
enum { FA_CPU_AVX2 = 1, FA_CPU_FMA = 2, FA_CPU_AVX512 = 4 };
/* The one CPU-feature check: FA_CPU_* bits the build has kernels for and the CPU runs, none if
 * the environment sets FACEAU_NO_AVX2 to anything but "" or "0". The CPU probe is cached (by
 * the compiler runtime's __builtin_cpu_init); objects call this once, when they pick their
 * kernels, so a running object never switches: a conv layer at fa_conv_init, a PDM at
 * fa_pdm_load (its fit, and the AU analyser's warp and HOG through pdm.cpu). Stateless helpers
 * called alone (fa_warp_affine, fa_fhog) ask on every call. */
unsigned fa_cpu_features(void);
/* Cores online (1 if unknown, at most FA_POOL_MAX_THREADS): the default thread count. */
int fa_cpu_count(void);

/* ---- worker pool (pool.c) --------------------------------------------------------------- */
/* Threads started once and reused: fa_pool_for runs a batch of independent jobs on them and on
 * the calling thread, and returns when all are done. Jobs are handed out in index order to
 * whichever thread is free, so a job must write only its own outputs (or its thread's scratch,
 * indexed by `thread`) for results not to depend on the thread count. One batch at a time per
 * pool: a pool is not shared by two callers at once. */
#define FA_POOL_MAX_THREADS 64
typedef struct fa_pool fa_pool;
typedef void (*fa_pool_fn)(void *ctx, long job, int thread);
/* threads: 1..FA_POOL_MAX_THREADS, counting the caller (1 = no extra thread). A thread that
 * cannot be started leaves a smaller pool (fa_pool_threads says how large). */
faceau_status fa_pool_create(int threads, fa_pool **out, fa_err *err);
void fa_pool_free(fa_pool *p);
/* Threads that run jobs, caller included (1 for a NULL pool). */
int fa_pool_threads(const fa_pool *p);
/* Runs fn(ctx, job, thread) for job = 0..n-1, thread in 0..fa_pool_threads(p)-1 (0 = the
 * caller), and waits for all of them. A NULL pool runs them on the caller. */
void fa_pool_for(fa_pool *p, long n, fa_pool_fn fn, void *ctx);

/* ---- numbers independent of the process locale (util.c) -------------------------------- */
/* A "C" LC_NUMERIC locale object for a reader or writer to own, so that strtod, scanf("%lf")
 * and printf("%f") always use '.' whatever the host's setlocale: made current on the calling
 * thread only (uselocale) around the parsing, never process-wide. */
faceau_status fa_c_locale_new(locale_t *out, fa_err *err);

/* ---- text and binary matrices in OpenFace's formats (models.c) ------------------------- */
/* OpenCV type codes as OpenFace stores them. */
enum { FA_CV_8U = 0, FA_CV_32S = 4, FA_CV_32F = 5, FA_CV_64F = 6 };

typedef struct fa_mat {
    int rows, cols, type; /* type: one of FA_CV_* as found in the file */
    double *data;         /* rows*cols values, row-major, converted to double */
} fa_mat;

/* OpenFace's SkipComments: drop whole lines while the next char is '#', '\n', ' ' or '\r'. */
void fa_skip_comments(FILE *f);
/* Reads "rows cols type" and rows*cols values (OpenFace's ReadMat). path is for messages. */
faceau_status fa_textmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err);

/* A binary model file being read: every value is little-endian, and a short read fails with
 * FACEAU_ERR_MODEL_CORRUPT naming the file and what was being read (`what`). */
typedef struct fa_reader {
    FILE *f;
    const char *path;
    fa_err *err;
} fa_reader;
faceau_status fa_read_i32(fa_reader *r, int32_t *v, const char *what);
faceau_status fa_read_f32(fa_reader *r, float *v, const char *what);
faceau_status fa_read_f64(fa_reader *r, double *v, const char *what);
/* Reads int32 rows, cols, type then raw little-endian data (OpenFace's ReadMatBin). */
faceau_status fa_binmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err);
/* fa_binmat_read after its header (rows, cols, OpenCV type) has been read by the caller. */
faceau_status fa_binmat_read_data(FILE *f, const char *path, int rows, int cols, int type, fa_mat *m,
                                  fa_err *err);
void fa_mat_free(fa_mat *m);

/* faceau_models_locate for a directory holding `marker` (a path relative to it). */
faceau_status fa_models_locate(const char *hint, const char *marker, char *dir, size_t dir_size,
                               char *errbuf, size_t errbuf_size);
#define FA_MTCNN_MARKER "mtcnn_detector/MTCNN_detector.txt"

/* The model readers' one bounds check, made before a declared size is allocated: fails with
 * FACEAU_ERR_MODEL_CORRUPT naming path and what when the file (a regular file: pipes pass) has
 * fewer than `need` bytes left after f's position. (A 16-byte file declaring a 2 GB matrix
 * allocated it before any read failed.) */
faceau_status fa_check_bytes_left(FILE *f, const char *path, uint64_t need, const char *what,
                                  fa_err *err);
/* Opens path for reading or fails with a message naming it. */
faceau_status fa_fopen_read(const char *path, FILE **out, fa_err *err);
/* An anonymous scratch file (read/write, binary) in $TMPDIR or /tmp, already unlinked; NULL if
 * none can be made. */
FILE *fa_tmpfile(void);
/* Joins dir and rel with '/' into out (size n); an absolute rel is used as is. */
faceau_status fa_path_join(char *out, size_t n, const char *dir, const char *rel, fa_err *err);


#endif /* FACEAU_CORE_H */

/* ctest suite of the C API: bad bundles, bad options, synthesis, both kinds of streaming, cancellation, the busy
 * rule, two models in two threads. Usage: test_api BUNDLE_DIR SCRATCH_DIR */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <voxlite.h>

static int failures = 0;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, " [last error: %s]\n", voxlite_last_error());  \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static const char *bundle_dir;
static char scratch[4096];
static const char *TEXT = "The quick brown fox jumps over the lazy dog. It was 3:30 p.m.";

static voxlite_model *open_model(void) {
    voxlite_config c;
    voxlite_config_default(&c);
    c.bundle_path = bundle_dir;
    c.threads = 1;
    voxlite_model *m = NULL;
    int s = voxlite_open(&c, &m);
    CHECK(s == VOXLITE_OK && m != NULL, "open %s -> %d", bundle_dir, s);
    return m;
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static int open_status(const char *dir, int verify) {
    voxlite_config c;
    voxlite_config_default(&c);
    c.bundle_path = dir;
    c.verify = verify;
    voxlite_model *m = NULL;
    int s = voxlite_open(&c, &m);
    CHECK((s == VOXLITE_OK) == (m != NULL), "model set iff OK");
    voxlite_close(m);
    return s;
}

static void test_library(void) {
    CHECK(strcmp(voxlite_version(), "") != 0, "version");
    CHECK(voxlite_api_version() == VOXLITE_API_VERSION, "api version");
    CHECK(strcmp(voxlite_status_string(VOXLITE_BUNDLE_ERROR), "bundle error") == 0, "status string");
    voxlite_close(NULL);
    voxlite_stream_close(NULL);
    voxlite_audio_free(NULL);
}

static void test_bad_bundles(void) {
    voxlite_model *m = (voxlite_model *)1;
    CHECK(voxlite_open(NULL, NULL) == VOXLITE_INVALID_ARGUMENT, "NULL out");
    voxlite_config c;
    voxlite_config_default(&c);
    c.bundle_path = "/nonexistent/voxlite/bundle";
    CHECK(voxlite_open(&c, &m) == VOXLITE_BUNDLE_ERROR && m == NULL, "missing bundle");
    CHECK(strstr(voxlite_last_error(), "no bundle") != NULL, "message names it: %s", voxlite_last_error());
    c.bundle_path = bundle_dir;
    c.backend = "cuda";
    CHECK(voxlite_open(&c, &m) == VOXLITE_UNSUPPORTED, "unknown backend");
    c.backend = "cpu";
    c.threads = -3;
    CHECK(voxlite_open(&c, &m) == VOXLITE_INVALID_ARGUMENT, "negative threads");
    c.threads = 1;
    c.struct_size = 3;
    CHECK(voxlite_open(&c, &m) == VOXLITE_INVALID_ARGUMENT, "bad struct_size");

    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fake", scratch);
    mkdir(dir, 0755);
    char graphs[4300];
    snprintf(graphs, sizeof graphs, "%s/graphs", dir);
    mkdir(graphs, 0755);
    write_file(dir, "graphs/g.onnx", "0123456789");
    /* sha256("0123456789") is 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 */
    const char *head = "{\"format\": \"voxlite.bundle\", \"format_version\": 2, \"model_type\": \"codec\", \"name\": \"fake\","
                       " \"sample_rate\": 16000, \"components\": {\"codec\": {\"kind\": \"codec\", \"graphs\": {\"decoder\":"
                       " {\"inputs\": [], \"outputs\": [{\"name\": \"audio\", \"dtype\": \"float32\", \"shape\": [1]}],"
                       " \"files\": {\"fp32\": \"graphs/g.onnx\"}}}}}, \"files\": {\"graphs/g.onnx\": {\"bytes\": 10, \"sha256\": \"";
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s%s\"}}}", head,
             "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7883"); /* last digit altered */
    write_file(dir, "manifest.json", manifest);
    CHECK(open_status(dir, 1) == VOXLITE_BUNDLE_ERROR, "tampered file refused");
    CHECK(strstr(voxlite_last_error(), "sha256") != NULL, "message names the hash: %s", voxlite_last_error());
    CHECK(open_status(dir, 0) == VOXLITE_UNSUPPORTED, "verify=0 skips the hash; a codec bundle is not run here");
    snprintf(manifest, sizeof manifest, "%s%s\"}}}", head,
             "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882");
    write_file(dir, "manifest.json", manifest);
    CHECK(open_status(dir, 1) == VOXLITE_UNSUPPORTED, "intact fake bundle passes verification");
    write_file(dir, "graphs/g.onnx", "01234567");
    CHECK(open_status(dir, 0) == VOXLITE_BUNDLE_ERROR, "truncated file refused even without hashing");
    CHECK(strstr(voxlite_last_error(), "truncated") != NULL, "%s", voxlite_last_error());
    write_file(dir, "manifest.json", "{\"format\": \"voxlite.bundle\", \"format_version\": 2,");
    CHECK(open_status(dir, 1) == VOXLITE_BUNDLE_ERROR, "truncated manifest");
    CHECK(strstr(voxlite_last_error(), "not valid JSON") != NULL, "%s", voxlite_last_error());
    write_file(dir, "manifest.json", "{\"format\": \"voxlite.bundle\", \"format_version\": 9}");
    CHECK(open_status(dir, 1) == VOXLITE_BUNDLE_ERROR && strstr(voxlite_last_error(), "newer"), "future version");
    write_file(dir, "manifest.json",
               "{\"format\": \"voxlite.bundle\", \"format_version\": 2, \"model_type\": \"codec\", \"name\": \"x\","
               " \"components\": {\"c\": {\"kind\": \"codec\", \"files\": {\"lexicon\": \"../outside.json\"}}}, \"files\": {}}");
    CHECK(open_status(dir, 1) == VOXLITE_BUNDLE_ERROR && strstr(voxlite_last_error(), "leaves the bundle"),
          "path escaping the bundle");
}

static void test_bad_options(voxlite_model *m) {
    voxlite_audio a;
    voxlite_options o;
    voxlite_options_default(&o);
    CHECK(voxlite_synthesize(m, "", NULL, &a) == VOXLITE_INVALID_ARGUMENT && a.samples == NULL, "empty text");
    CHECK(voxlite_synthesize(m, "   \n", NULL, &a) == VOXLITE_INVALID_ARGUMENT, "blank text");
    CHECK(voxlite_synthesize(m, NULL, NULL, &a) == VOXLITE_INVALID_ARGUMENT, "NULL text");
    CHECK(voxlite_synthesize(NULL, "x", NULL, &a) == VOXLITE_INVALID_ARGUMENT, "NULL model");
    char *big = malloc(6002);
    memset(big, 'a', 6000);
    big[6000] = '.';
    big[6001] = 0;
    CHECK(voxlite_synthesize(m, big, NULL, &a) == VOXLITE_INVALID_ARGUMENT, "too long");
    CHECK(strstr(voxlite_last_error(), "too long") != NULL, "%s", voxlite_last_error());
    free(big);
    o.steps = -2;
    CHECK(voxlite_synthesize(m, "Hi.", &o, &a) == VOXLITE_INVALID_ARGUMENT, "steps");
    voxlite_options_default(&o);
    o.speed = 5;
    CHECK(voxlite_synthesize(m, "Hi.", &o, &a) == VOXLITE_INVALID_ARGUMENT, "speed");
    voxlite_options_default(&o);
    o.volume = 9;
    CHECK(voxlite_synthesize(m, "Hi.", &o, &a) == VOXLITE_INVALID_ARGUMENT, "volume");
    voxlite_options_default(&o);
    o.struct_size = 8;
    CHECK(voxlite_synthesize(m, "Hi.", &o, &a) == VOXLITE_INVALID_ARGUMENT, "options struct_size");
    voxlite_options_default(&o);
    o.prompt_text = "Hello.";
    CHECK(voxlite_synthesize(m, "Hi.", &o, &a) == VOXLITE_INVALID_ARGUMENT, "single voice takes no prompt");
    CHECK(voxlite_synthesize(m, "<speak>Hi.</speak>", NULL, &a) == VOXLITE_UNSUPPORTED, "SSML refused");
    CHECK(voxlite_synthesize(m, "\xff\xfe bad bytes", NULL, &a) == VOXLITE_INVALID_ARGUMENT, "invalid UTF-8");
    float x[4] = {0, 0.5f, -0.5f, 0};
    CHECK(voxlite_write_wav("out.wav", NULL, 4, 24000) == VOXLITE_INVALID_ARGUMENT, "NULL samples");
    CHECK(voxlite_write_wav("out.wav", x, 4, 0) == VOXLITE_INVALID_ARGUMENT, "sample rate 0");
    CHECK(voxlite_write_wav("", x, 4, 24000) == VOXLITE_INVALID_ARGUMENT, "empty path");
    CHECK(voxlite_write_wav(scratch, x, 4, 24000) == VOXLITE_IO_ERROR, "a directory is not a file");
    char leftover[4300];
    snprintf(leftover, sizeof leftover, "%s.part-%d", scratch, (int)getpid());
    CHECK(access(leftover, F_OK) != 0, "no half-written file left");
}

static int finite_audio(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || x[i] < -1.0f || x[i] > 1.0f) return 0;
    return 1;
}

typedef struct {
    float *samples;
    size_t length, capacity;
    int calls, stop_after;
} collected;

static int collect(const float *s, size_t n, void *user) {
    collected *c = (collected *)user;
    if (c->length + n > c->capacity) {
        c->capacity = 2 * (c->length + n);
        c->samples = realloc(c->samples, c->capacity * sizeof(float));
    }
    memcpy(c->samples + c->length, s, n * sizeof(float));
    c->length += n;
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after;
}

static void test_synthesis_and_streams(voxlite_model *m, voxlite_audio *reference) {
    CHECK(voxlite_sample_rate(m) == 24000, "rate %d", voxlite_sample_rate(m));
    CHECK(voxlite_synthesize(m, TEXT, NULL, reference) == VOXLITE_OK, "synthesize");
    CHECK(reference->length > 24000 && finite_audio(reference->samples, reference->length), "audio %zu samples",
          reference->length);

    collected pushed = {0};
    CHECK(voxlite_synthesize_stream(m, TEXT, NULL, collect, &pushed) == VOXLITE_OK, "callback stream");
    CHECK(pushed.calls > 1, "streamed in %d chunks", pushed.calls);
    CHECK(pushed.length == reference->length, "stream length %zu vs %zu", pushed.length, reference->length);

    voxlite_stream *s = NULL;
    CHECK(voxlite_stream_open(m, TEXT, NULL, &s) == VOXLITE_OK, "pull stream");
    voxlite_audio busy;
    CHECK(voxlite_synthesize(m, "Hi.", NULL, &busy) == VOXLITE_BUSY, "busy while a stream is open");
    const float *chunk;
    size_t n, total = 0;
    int status, chunks = 0, mismatch = 0;
    while ((status = voxlite_stream_next(s, &chunk, &n)) == VOXLITE_OK) {
        CHECK(n > 0 && chunk != NULL, "audio comes with samples");
        for (size_t i = 0; i < n && total + i < pushed.length; i++)
            mismatch |= chunk[i] != pushed.samples[total + i];
        total += n;
        chunks++;
    }
    CHECK(status == VOXLITE_DONE && n == 0, "done is separate from audio");
    CHECK(voxlite_stream_next(s, &chunk, &n) == VOXLITE_DONE, "done stays done");
    CHECK(total == pushed.length && !mismatch, "pull equals push (%zu vs %zu samples)", total, pushed.length);
    voxlite_stream_close(s);
    CHECK(voxlite_synthesize(m, "Hi.", NULL, &busy) == VOXLITE_OK, "free again after close");
    voxlite_audio_free(&busy);

    collected cancelled = {0};
    cancelled.stop_after = 1;
    CHECK(voxlite_synthesize_stream(m, TEXT, NULL, collect, &cancelled) == VOXLITE_CANCELLED, "cancel");
    CHECK(cancelled.calls == 1, "no call after cancelling (%d)", cancelled.calls);
    CHECK(voxlite_stream_open(m, TEXT, NULL, &s) == VOXLITE_OK, "open then close early");
    CHECK(voxlite_stream_next(s, &chunk, &n) == VOXLITE_OK, "first chunk");
    voxlite_stream_close(s);
    CHECK(voxlite_synthesize(m, "Hi.", NULL, &busy) == VOXLITE_OK, "closing early frees the model");
    voxlite_audio_free(&busy);

    voxlite_options o;
    voxlite_options_default(&o);
    o.speed = 2.0f;
    voxlite_audio fast;
    CHECK(voxlite_synthesize(m, TEXT, &o, &fast) == VOXLITE_OK, "speed 2");
    CHECK(fast.length < reference->length * 0.6, "twice as fast: %zu vs %zu", fast.length, reference->length);
    voxlite_audio_free(&fast);

    char *phonemes = NULL;
    int64_t *ids = NULL;
    CHECK(voxlite_phonemize(m, "Hello world.", &phonemes) == VOXLITE_OK && phonemes && strlen(phonemes) > 5, "phonemes");
    CHECK(voxlite_text_to_ids(m, "Hello world.", &ids, &n) == VOXLITE_OK && n > 5, "ids");
    voxlite_free(phonemes);
    voxlite_free(ids);
    free(pushed.samples);
    free(cancelled.samples);
}

typedef struct {
    voxlite_audio audio;
    int status;
} job;

static void *thread_main(void *arg) {
    job *j = (job *)arg;
    voxlite_model *m = open_model();
    j->status = m ? voxlite_synthesize(m, TEXT, NULL, &j->audio) : -100;
    voxlite_close(m);
    return NULL;
}

static void test_two_threads(const voxlite_audio *reference) {
    pthread_t t[2];
    job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, thread_main, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK(jobs[i].status == VOXLITE_OK, "thread %d status %d", i, jobs[i].status);
        CHECK(jobs[i].audio.length == reference->length &&
                  memcmp(jobs[i].audio.samples, reference->samples, reference->length * sizeof(float)) == 0,
              "thread %d audio equals the single-threaded audio", i);
        voxlite_audio_free(&jobs[i].audio);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s BUNDLE_DIR SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    bundle_dir = argv[1];
    snprintf(scratch, sizeof scratch, "%s", argv[2]);
    mkdir(scratch, 0755);
    test_library();
    test_bad_bundles();
    voxlite_model *m = open_model();
    if (!m) return 1;
    test_bad_options(m);
    voxlite_audio reference;
    test_synthesis_and_streams(m, &reference);
    voxlite_close(m);
    test_two_threads(&reference);
    voxlite_audio_free(&reference);
    if (failures) fprintf(stderr, "%d failure(s)\n", failures);
    else printf("all C API tests passed\n");
    return failures ? 1 : 0;
}

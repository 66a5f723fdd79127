/* voxlite_bench: time the C API on one text. Prints one JSON object:
 *   {"open_s", "first_audio_ms" (callback stream: text in -> first chunk out), "synth_s" (voxlite_synthesize,
 *    best of rounds), "stream_s", "audio_s", "max_rss_mb"}
 * usage: voxlite_bench BUNDLE_DIR THREADS ROUNDS TEXT */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <voxlite.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    double start, first;
    size_t samples;
} timing;

static int on_chunk(const float *samples, size_t n, void *user) {
    (void)samples;
    timing *t = (timing *)user;
    if (t->samples == 0) t->first = now();
    t->samples += n;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s BUNDLE_DIR THREADS ROUNDS TEXT\n", argv[0]);
        return 2;
    }
    voxlite_config c;
    voxlite_config_default(&c);
    c.bundle_path = argv[1];
    c.threads = atoi(argv[2]);
    int rounds = atoi(argv[3]);
    const char *text = argv[4];
    double t0 = now();
    voxlite_model *m = NULL;
    if (voxlite_open(&c, &m) != VOXLITE_OK) {
        fprintf(stderr, "voxlite_bench: %s\n", voxlite_last_error());
        return 1;
    }
    double open_s = now() - t0, synth = 1e9, stream = 1e9, first = 1e9;
    size_t samples = 0;
    voxlite_audio warm;
    if (voxlite_synthesize(m, "Warm up.", NULL, &warm) != VOXLITE_OK) return 1;
    voxlite_audio_free(&warm);
    for (int r = 0; r < rounds; r++) {
        voxlite_audio a;
        double s = now();
        if (voxlite_synthesize(m, text, NULL, &a) != VOXLITE_OK) {
            fprintf(stderr, "voxlite_bench: %s\n", voxlite_last_error());
            return 1;
        }
        double e = now() - s;
        if (e < synth) synth = e;
        samples = a.length;
        voxlite_audio_free(&a);
        timing t = {now(), 0, 0};
        if (voxlite_synthesize_stream(m, text, NULL, on_chunk, &t) != VOXLITE_OK) return 1;
        e = now() - t.start;
        if (e < stream) stream = e;
        if (t.first - t.start < first) first = t.first - t.start;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"open_s\": %.4f, \"first_audio_ms\": %.3f, \"synth_s\": %.4f, \"stream_s\": %.4f, \"audio_s\": %.4f, "
           "\"max_rss_mb\": %.1f}\n",
           open_s, 1e3 * first, synth, stream, (double)samples / voxlite_sample_rate(m), ru.ru_maxrss / 1024.0);
    voxlite_close(m);
    return 0;
}

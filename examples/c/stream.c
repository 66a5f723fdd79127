/* stream: speech as raw PCM on stdout while it is generated, for a pipe into a player.
 *
 *     stream "Hello there." | aplay -f FLOAT_LE -r 24000 -c 1
 *     stream "Hello there." | ffplay -f f32le -ar 24000 -ac 1 -nodisp -autoexit -
 *     stream --pull "Hello there." [bundle-dir] > out.f32
 *
 * Mono float32 little-endian samples at the bundle's rate (printed on stderr). By default the callback API is
 * used; --pull uses the pull iterator. A closed pipe cancels the synthesis. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <voxlite.h>

static int write_chunk(const float *samples, size_t n, void *user) {
    FILE *out = (FILE *)user;
    if (fwrite(samples, sizeof(float), n, out) != n || fflush(out) != 0) return 1; /* reader gone: cancel */
    return 0;
}

int main(int argc, char **argv) {
    int pull = argc > 1 && strcmp(argv[1], "--pull") == 0;
    int first = pull ? 2 : 1;
    if (argc - first < 1 || argc - first > 2) {
        fprintf(stderr, "usage: %s [--pull] TEXT [BUNDLE_DIR] > audio.f32\n", argv[0]);
        return 2;
    }
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a write error, not a kill */
#endif
    voxlite_config config;
    voxlite_config_default(&config);
    config.bundle_path = argc - first == 2 ? argv[first + 1] : NULL;
    config.threads = 1;
    voxlite_model *model = NULL;
    if (voxlite_open(&config, &model) != VOXLITE_OK) {
        fprintf(stderr, "stream: %s\n", voxlite_last_error());
        return 1;
    }
    fprintf(stderr, "stream: float32 mono at %d Hz\n", voxlite_sample_rate(model));
    int status;
    if (!pull) {
        status = voxlite_synthesize_stream(model, argv[first], NULL, write_chunk, stdout);
    } else {
        voxlite_stream *stream = NULL;
        status = voxlite_stream_open(model, argv[first], NULL, &stream);
        if (status == VOXLITE_OK) {
            const float *samples;
            size_t n;
            while ((status = voxlite_stream_next(stream, &samples, &n)) == VOXLITE_OK)
                if (write_chunk(samples, n, stdout)) {
                    status = VOXLITE_CANCELLED;
                    break;
                }
            if (status == VOXLITE_DONE) status = VOXLITE_OK;
            voxlite_stream_close(stream);
        }
    }
    if (status != VOXLITE_OK && status != VOXLITE_CANCELLED) fprintf(stderr, "stream: %s\n", voxlite_last_error());
    voxlite_close(model);
    return status == VOXLITE_OK ? 0 : 1;
}

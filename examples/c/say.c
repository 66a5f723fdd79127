/* say: text to a WAV file with voxlite's C API.
 *
 *     say "Hello there." hello.wav [bundle-dir]
 *
 * Without a bundle directory it opens VOXLITE_DEFAULT_BUNDLE, else the default voice the library was built with.
 * Exit status 0 on success; on failure the library's message goes to stderr. */
#include <stdio.h>

#include <voxlite.h>

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s TEXT OUT.wav [BUNDLE_DIR]\n", argv[0]);
        return 2;
    }
    voxlite_config config;
    voxlite_config_default(&config);
    config.bundle_path = argc == 4 ? argv[3] : NULL;
    config.threads = 1;

    voxlite_model *model = NULL;
    if (voxlite_open(&config, &model) != VOXLITE_OK) {
        fprintf(stderr, "say: %s\n", voxlite_last_error());
        return 1;
    }
    voxlite_audio audio;
    int status = voxlite_synthesize(model, argv[1], NULL, &audio);
    if (status == VOXLITE_OK) {
        status = voxlite_write_wav(argv[2], audio.samples, audio.length, audio.sample_rate);
        if (status == VOXLITE_OK)
            printf("%s: %.2f s of audio at %d Hz\n", argv[2], (double)audio.length / audio.sample_rate,
                   audio.sample_rate);
        voxlite_audio_free(&audio);
    }
    if (status != VOXLITE_OK) fprintf(stderr, "say: %s\n", voxlite_last_error());
    voxlite_close(model);
    return status == VOXLITE_OK ? 0 : 1;
}

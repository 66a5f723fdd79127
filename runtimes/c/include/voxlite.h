/*
 * voxlite.h: the C API of voxlite, offline speech synthesis for apps without Python.
 *
 * voxlite runs a *bundle* (a directory with manifest.json, ONNX graphs and the text front end's files: the voice
 * embedded in the voxlite wheel, or one exported with `python -m export ...`) on OpenVINO, on this machine, with
 * nothing downloaded. This first version runs the voxcpm family: the default voice and converted VoxCPM
 * checkpoints (the latter with voice cloning from a prompt recording).
 *
 * Quick start: text to a WAV file
 *
 *     #include <voxlite.h>
 *
 *     voxlite_config config;
 *     voxlite_config_default(&config);
 *     config.bundle_path = "/path/to/voxlite/voices/default";
 *     config.threads = 1;
 *
 *     voxlite_model *model = NULL;
 *     if (voxlite_open(&config, &model) != VOXLITE_OK) {
 *         fprintf(stderr, "voxlite: %s\n", voxlite_last_error());
 *         return 1;
 *     }
 *     voxlite_audio audio;
 *     if (voxlite_synthesize(model, "Hello from voxlite.", NULL, &audio) == VOXLITE_OK) {
 *         voxlite_write_wav("hello.wav", audio.samples, audio.length, audio.sample_rate);
 *         voxlite_audio_free(&audio);
 *     }
 *     voxlite_close(model);
 *
 * Streaming, push style: a callback gets each chunk of audio as soon as it is decoded (the first one after a few
 * patches of speech); return non-zero from it to cancel (the call then returns VOXLITE_CANCELLED):
 *
 *     static int on_audio(const float *samples, size_t n, void *user) {
 *         fwrite(samples, sizeof(float), n, (FILE *)user);
 *         return 0;
 *     }
 *     voxlite_synthesize_stream(model, text, NULL, on_audio, stdout);
 *
 * Streaming, pull style: "here is audio" (VOXLITE_OK with n > 0) and "finished" (VOXLITE_DONE, never with audio)
 * are separate results, so the obvious loop loses nothing:
 *
 *     voxlite_stream *stream;
 *     if (voxlite_stream_open(model, text, NULL, &stream) == VOXLITE_OK) {
 *         const float *samples; size_t n; int status;
 *         while ((status = voxlite_stream_next(stream, &samples, &n)) == VOXLITE_OK)
 *             play(samples, n);          // valid until the next call on the stream
 *         if (status != VOXLITE_DONE) fprintf(stderr, "%s\n", voxlite_last_error());
 *         voxlite_stream_close(stream);  // closing early cancels the rest
 *     }
 *
 * Options (seed, solver steps, guidance, voice prompt, speed, volume) go in a voxlite_options initialised by
 * voxlite_options_default(); NULL means all defaults. Options a bundle cannot honour are refused, named.
 *
 * Errors: every call that can fail returns a voxlite_status (VOXLITE_OK, or a negative error code) and leaves a
 * message for the calling thread in voxlite_last_error(). Nothing is half-done on error: no output is filled in,
 * no file is half-written.
 *
 * Threads: separate models are independent and may be used from separate threads at the same time (each one
 * holds its own compiled graphs). One model runs one synthesis at a time: a call made while another call or an
 * open stream is using the model returns VOXLITE_BUSY at once (it does not wait). voxlite_last_error() is
 * per thread. voxlite_close() must not race with calls on the same model.
 *
 * Memory: audio returned in a voxlite_audio is owned by the caller (free it with voxlite_audio_free); strings
 * and id arrays returned through pointers are freed with voxlite_free. Stream chunks are owned by the stream.
 *
 * Samples are mono float32 in [-1, 1] at the bundle's sample rate (voxlite_sample_rate()).
 *
 * ABI: the two option structs start with their own size (set by the *_default() functions), so fields can be
 * added at the end in later versions without breaking programs built against this header.
 */
#ifndef VOXLITE_H
#define VOXLITE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(VOXLITE_SHARED)
#  ifdef VOXLITE_BUILDING
#    define VOXLITE_API __declspec(dllexport)
#  else
#    define VOXLITE_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define VOXLITE_API __attribute__((visibility("default")))
#else
#  define VOXLITE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VOXLITE_API_VERSION 1

/* Results. Non-negative values are not errors. */
typedef enum voxlite_status {
    VOXLITE_OK = 0,
    VOXLITE_DONE = 1,                /* voxlite_stream_next: the stream has no more audio (no samples with it) */
    VOXLITE_INVALID_ARGUMENT = -1,   /* a NULL pointer, empty or too long text, an option out of its range */
    VOXLITE_BUNDLE_ERROR = -2,       /* no bundle there, a malformed manifest, a missing, altered or corrupt file */
    VOXLITE_UNSUPPORTED = -3,        /* a bundle family, option or device this build does not run */
    VOXLITE_BACKEND_ERROR = -4,      /* the inference engine failed (device missing, graph rejected) */
    VOXLITE_CANCELLED = -5,          /* the stream callback returned non-zero */
    VOXLITE_BUSY = -6,               /* the model is running another synthesis or has an open stream */
    VOXLITE_IO_ERROR = -7,           /* a file could not be read or written */
    VOXLITE_OUT_OF_MEMORY = -8,
    VOXLITE_INTERNAL_ERROR = -9
} voxlite_status;

typedef struct voxlite_model voxlite_model;
typedef struct voxlite_stream voxlite_stream;

/* How a model is opened. Initialise with voxlite_config_default(), then set what you need. */
typedef struct voxlite_config {
    size_t struct_size;         /* set by voxlite_config_default */
    const char *bundle_path;    /* a bundle directory; NULL: the VOXLITE_DEFAULT_BUNDLE environment variable */
    const char *backend;        /* OpenVINO device: "cpu" (default), "gpu", "npu", "auto"; only "cpu" is tested */
    int threads;                /* inference threads; 0: the engine's choice (all cores) */
    const char *precision;      /* the graph variant ("fp32", "int8", ...); NULL: the bundle's default */
    int verify;                 /* 1 (default): check every file's size and sha256 on open; 0: sizes only */
    const char *cache_dir;      /* a directory for OpenVINO's compiled-graph cache (faster reopen); NULL: none */
} voxlite_config;

/* What one synthesis does. Initialise with voxlite_options_default(); NULL options mean the defaults. */
typedef struct voxlite_options {
    size_t struct_size;         /* set by voxlite_options_default */
    uint64_t seed;              /* noise seed (0); sentence chunk i of a long text uses seed + i */
    int steps;                  /* flow-matching solver steps; 0: the bundle's default */
    float cfg;                  /* classifier-free guidance scale; negative: the bundle's default */
    float flow_start;           /* 1: solve from noise; < 1: start from the prior head; negative: the default */
    float speed;                /* speaking rate 0.5 .. 2 (1), pitch kept; mel-vocoder voices only */
    float volume;               /* linear gain 0 .. 4 (1); the output is clipped to [-1, 1] */
    /* A voice prompt (bundles with voice cloning): a recording at the bundle's sample rate and its transcript.
       Both or neither. */
    const float *prompt_samples;
    size_t prompt_length;
    int prompt_sample_rate;
    const char *prompt_text;
} voxlite_options;

/* Audio owned by the caller: free with voxlite_audio_free. */
typedef struct voxlite_audio {
    float *samples;
    size_t length;
    int sample_rate;
} voxlite_audio;

/* Receives each chunk of streamed audio; return 0 to go on, non-zero to cancel. */
typedef int (*voxlite_audio_callback)(const float *samples, size_t n, void *user);

/* -- library ------------------------------------------------------------------------------------------------ */
VOXLITE_API const char *voxlite_version(void);               /* "0.1.0" */
VOXLITE_API int voxlite_api_version(void);                   /* VOXLITE_API_VERSION of the built library */
VOXLITE_API const char *voxlite_status_string(int status);   /* "bundle error", ... */
VOXLITE_API const char *voxlite_last_error(void);            /* this thread's last error message ("" if none) */
VOXLITE_API void voxlite_free(void *pointer);                /* strings and arrays returned by voxlite */

/* -- models ------------------------------------------------------------------------------------------------- */
VOXLITE_API void voxlite_config_default(voxlite_config *config);
VOXLITE_API void voxlite_options_default(voxlite_options *options);
VOXLITE_API int voxlite_open(const voxlite_config *config, voxlite_model **model);
VOXLITE_API void voxlite_close(voxlite_model *model);        /* NULL is fine */
VOXLITE_API int voxlite_sample_rate(const voxlite_model *model);
VOXLITE_API const char *voxlite_model_name(const voxlite_model *model);    /* the manifest's name */
VOXLITE_API int voxlite_supports_voice_cloning(const voxlite_model *model);

/* -- synthesis ---------------------------------------------------------------------------------------------- */
/* Text (UTF-8) -> all of its audio. Long text is split at sentence ends into chunks generated in turn. */
VOXLITE_API int voxlite_synthesize(voxlite_model *model, const char *text, const voxlite_options *options,
                                   voxlite_audio *audio);
VOXLITE_API void voxlite_audio_free(voxlite_audio *audio);  /* frees samples, zeroes the struct */

/* Push streaming: callback(chunk) as each chunk is decoded; VOXLITE_CANCELLED if the callback asked to stop. */
VOXLITE_API int voxlite_synthesize_stream(voxlite_model *model, const char *text, const voxlite_options *options,
                                          voxlite_audio_callback callback, void *user);

/* Pull streaming. The stream keeps the model busy until voxlite_stream_close. */
VOXLITE_API int voxlite_stream_open(voxlite_model *model, const char *text, const voxlite_options *options,
                                    voxlite_stream **stream);
/* VOXLITE_OK: *samples / *n hold the next chunk (n > 0; valid until the next call on this stream);
   VOXLITE_DONE: no more audio (*n = 0); an error: the stream is over. */
VOXLITE_API int voxlite_stream_next(voxlite_stream *stream, const float **samples, size_t *n);
VOXLITE_API void voxlite_stream_close(voxlite_stream *stream);  /* NULL is fine */

/* -- text --------------------------------------------------------------------------------------------------- */
/* What the text front end makes of text: its phoneme string (free with voxlite_free) and token ids. */
VOXLITE_API int voxlite_phonemize(voxlite_model *model, const char *text, char **phonemes);
VOXLITE_API int voxlite_text_to_ids(voxlite_model *model, const char *text, int64_t **ids, size_t *n);

/* -- files -------------------------------------------------------------------------------------------------- */
/* 16-bit PCM mono WAV, written to a temporary file and renamed: no half-written file on failure. */
VOXLITE_API int voxlite_write_wav(const char *path, const float *samples, size_t n, int sample_rate);

#ifdef __cplusplus
}
#endif

#endif /* VOXLITE_H */

/* `latdyn between I0 I1 -o OUTDIR`: in-between frames and motion fields of
 * two images. Parses and validates everything before OUTDIR is touched,
 * trains the model (or runs a baseline), infers, and writes the outputs. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include "baselines/crossfade.h"
#include "baselines/flow.h"
#include "baselines/ot.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/stop.h"
#include "data/georef.h"
#include "data/image.h"
#include "engine/atomic_file.h"
#include "engine/backend.h"
#include "models/between.h"
#include "ops/conv.h"
#include "plot/between_outputs.h"

typedef enum { METHOD_LATENT, METHOD_IMAGE, METHOD_OT, METHOD_CROSSFADE, METHOD_FLOW } method_kind;

static const char *const method_names[] = {"latent", "image", "ot", "crossfade", "flow", NULL};
/* The names of the model's enumerated settings, in their enums' order: the
 * options take them, and the report shows them instead of the numbers the
 * checkpoint stores. */
static const char *const field_inputs[] = {"i0", "pair", NULL}; /* ld_field_input */
static const char *const no_yes[] = {"no", "yes", NULL};
static const char *const blends[] = {"no", "yes", "valid", NULL}; /* ld_blend */
static const char *const mask_modes[] = {"no", "all", "image", NULL}; /* ld_mask_outside */
static const char *const image_errors[] = {"squared", "absolute", NULL}; /* image_abs 0, 1 */
static const char *const precisions[] = {"f32", "bf16", NULL};     /* ld_precision */

/* The learned methods (trained on patches); the others are baselines. */
static int is_model(method_kind m) { return m == METHOD_LATENT || m == METHOD_IMAGE; }

/* Loss weights (between.md's lambdas), the field scale and the learning
 * rate's decay factor, settable over the preset's values. */
static const struct {
    const char *option;
    size_t offset; /* of the float in ld_between_config */
    double lo, hi;
} float_options[] = {
    {"--w-ae", offsetof(ld_between_config, w_ae), 0, 1e6},
    {"--w-mag", offsetof(ld_between_config, w_mag), 0, 1e6},
    {"--w-space", offsetof(ld_between_config, w_space), 0, 1e6},
    {"--w-time", offsetof(ld_between_config, w_time), 0, 1e6},
    {"--w-backward", offsetof(ld_between_config, w_backward), 0, 1e6},
    {"--field-scale", offsetof(ld_between_config, field_scale), 1e-3, 1e3},
    {"--lr-decay", offsetof(ld_between_config, lr_decay), 1e-3, 1},
    {"--shrink", offsetof(ld_between_config, shrink), 0, 1},
    {"--w-image", offsetof(ld_between_config, w_image), 0, 1e6},
};
#define N_FLOAT_OPTIONS (sizeof float_options / sizeof float_options[0])

typedef struct between_args {
    const char *input0, *input1, *out_dir, *resume, *preset;
    method_kind method;
    int stages, patch, stride, infer_stride, steps, decay_every, batch, width, decoder_width, threads,
        field_input, blend, carry_error, quiet, tiles, precision, mask_outside, image_abs;
    float lr;
    float floats[N_FLOAT_OPTIONS]; /* < 0: the preset's */
    uint64_t seed;
} between_args;

static void between_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn between I0 I1 -o OUTDIR [options]\n\n"
        "Estimates the unobserved stages between two images of the same scene (I0 at t=0,\n"
        "I1 at t=1) and the velocity fields that explain them (between.md).\n"
        "Inputs: PNG (8/16-bit grey, RGB or RGBA; alpha dropped), TIFF or GeoTIFF (one\n"
        "or more integer or float bands, e.g. HH and HV) or .npy ([H,W] or [C,H,W],\n"
        "any integer or float type); same size and kind of samples (8-bit, 16-bit,\n"
        "floating point) for both, every pixel data (NaN, infinite, GeoTIFF no-data\n"
        "pixels and float64 values beyond float32's range are refused). Frame PNGs of\n"
        "grey and RGB inputs keep an unsigned 8/16-bit input's scale, other inputs'\n"
        "value range mapped onto 16 bits; 2 bands, or more than 3, give an 8-bit\n"
        "false-colour composite (frames.npy and TIFF outputs keep every band).\n\n"
        "options:\n"
        "  -o, --out DIR        output folder (required)\n"
        "  --preset NAME        paper (between.md's values) or quick (default; faster,\n"
        "                       both images to the field network, time symmetry)\n"
        "  --method NAME        latent (default), image (E and D fixed to identity),\n"
        "                       ot (optimal-transport interpolation; its cost grows as\n"
        "                       H W (H + W): on 2 cores 256x256 takes about 2 minutes,\n"
        "                       900x900 up to 6 minutes per stage), crossfade,\n"
        "                       flow (coarse-to-fine optical flow)\n"
        "  --stages N           intermediate stages N (frames 0..N; default 8)\n"
        "  --patch P            training/inference patch size, a multiple of 8 (32)\n"
        "  --stride S           training patch stride (preset's)\n"
        "  --infer-stride S     inference patch stride, 1..P (preset's; P/2 with --patch):\n"
        "                       patches overlap by P - S and are blended; fewer patches\n"
        "                       (a larger S) make inference faster\n"
        "  --steps K            training steps (preset's)\n"
        "  --batch B            patch pairs per step (16); training memory grows with\n"
        "                       B x P^2 x W: about 23 MB per pair at P 32, W 16, N 8\n"
        "  --width W            channels of the field network's and decoder's U-Nets\n"
        "                       at full resolution, doubling down each of the 3 levels\n"
        "                       (16); the convolutions' work grows as W^2, memory as W\n"
        "  --decoder-width W    the decoder's alone (as --width)\n"
        "  --lr RATE            Adam learning rate (1e-3)\n"
        "  --lr-decay F         learning rate times F every K steps (quick 0.5, paper 0.9)\n"
        "  --lr-decay-every K   the K of --lr-decay (quick 150, paper 500)\n"
        "  --field-input WHAT   i0 (as in the paper) or pair (I0 and I1 stacked)\n"
        "  --blend MODE         yes: each stage's frame blends I0 advected forward and\n"
        "                       I1 advected back, weights (1-t, t); valid (quick): the\n"
        "                       same, but where one direction's content entered through\n"
        "                       a patch border the other takes over; no: I0 forward\n"
        "                       only (paper)\n"
        "  --carry-error yes|no yes: each input's auto-encoder error I - D(E(I)) moves\n"
        "                       with its direction's fields and is added to the frames,\n"
        "                       so the end frames are the inputs (quick); no: off (paper)\n"
        "  --mask-outside MODE  which loss terms leave out the pixels whose content came\n"
        "                       in through the patch border (their trace left the patch),\n"
        "                       so motion towards a border is not penalised for what the\n"
        "                       patch cannot show: image, the image term alone (quick);\n"
        "                       all, every term scoring moved content (fields reach\n"
        "                       further on pairs with large motion, created features\n"
        "                       fare worse); no, every pixel counts (paper).\n"
        "                       bench/RESULTS.md has the measurements\n"
        "  --shrink T           the decoder's change to the advected image in each frame\n"
        "                       is soft-thresholded by T (patch values run over [0, 1]):\n"
        "                       below T (texture that only moves) it is dropped, above\n"
        "                       (features being created) kept, less T (quick 0.01;\n"
        "                       0: off, paper; needs the quick preset's latent)\n"
        "  --w-ae W             weight of the auto-encoder term (quick 1.5, paper 1)\n"
        "  --w-mag W, --w-space W, --w-time W\n"
        "                       weights of the field penalties: magnitude |v|^2,\n"
        "                       spatial smoothness, smoothness over the stages\n"
        "                       (preset's; see bench/RESULTS.md for the tuning)\n"
        "  --w-backward W       weight of the time-symmetry term (preset's)\n"
        "  --w-image W          weight of the image term: the image channels of the\n"
        "                       advected latents alone must match the other input, the\n"
        "                       image method's loss (quick 0.6, paper 0; needs the\n"
        "                       quick preset's latent)\n"
        "  --image-error E      how the image term scores: absolute, the mean absolute\n"
        "                       difference (quick: pixels no motion explains, such as a\n"
        "                       lead's open water, pull the fields less), or squared\n"
        "  --field-scale X      factor on the field network's output (preset's)\n"
        "  --tiles              stitch non-overlapping tiles (default: blended overlap)\n"
        "  --precision P        f32 (default) or bf16: the convolutions multiply inputs\n"
        "                       and weights rounded to bfloat16 (float32 sums, float32\n"
        "                       everywhere else); faster on CPUs with AMX (Intel Xeon\n"
        "                       from Sapphire Rapids on), refused on others; see\n"
        "                       bench/RESULTS.md\n"
        "  --seed S             random seed (1); same seed, same result\n"
        "  --threads T          OpenMP threads (default OMP_NUM_THREADS)\n"
        "  --resume CKPT        continue training from a model.safetensors (Ctrl-C or\n"
        "                       SIGTERM while training saves one in OUTDIR and stops)\n"
        "  --quiet              no progress output and no notes on the inputs (a grey\n"
        "                       band repeated, georeferencing that differs)\n\n"
        "OUTDIR gets frames.npy [N+1,C,H,W] (input units), frames/frame_NNN.png,\n"
        "fields.npy [N,2,H,W] (x and y velocity, pixels per unit time),\n"
        "fields/quiver_NNN.png, fields/streamlines.png, animation.gif, report.html,\n"
        "model.safetensors (resumable) and log.csv. TIFF inputs also give\n"
        "frames/frame_NNN.tif (float32, every band, input units) and\n"
        "fields/field_NNN.tif (float32, x and y velocity), GeoTIFFs with the input's\n"
        "georeferencing (geotransform and system, or ground control points) when it\n"
        "has one. Frames and fields an earlier run left in OUTDIR that this run does\n"
        "not write (more stages, another method's fields) are removed.\n\n"
        "With fields, the report and the output's last lines tell how well they explain\n"
        "the pair, with no ground truth: each pixel of I0 carried along the fields,\n"
        "I1 read where it lands, PSNR against I0, beside no motion's (I1 against I0).\n");
}

static int parse_between_args(int argc, char **argv, between_args *a, ld_err *err)
{
    *a = (between_args){.method = METHOD_LATENT, .seed = 1,
                        .stages = -1, .patch = -1, .stride = -1, .infer_stride = -1, .steps = -1,
                        .decay_every = -1, .batch = -1, .width = -1, .decoder_width = -1,
                        .field_input = -1, .blend = -1, .carry_error = -1, .lr = -1,
                        .mask_outside = -1, .image_abs = -1};
    int method = METHOD_LATENT;
    const ld_option fixed[] = {
        LD_OUT(&a->out_dir),
        LD_STRING("--preset", &a->preset),
        LD_CHOICE("--method", &method, method_names),
        LD_INT("--stages", &a->stages, 1, LD_BETWEEN_MAX_STAGES),
        LD_INT("--patch", &a->patch, 8, 1024),
        LD_INT("--stride", &a->stride, 1, 1024),
        LD_INT("--infer-stride", &a->infer_stride, 1, 1024),
        LD_INT("--steps", &a->steps, 0, 100000000),
        LD_INT("--lr-decay-every", &a->decay_every, 1, 100000000),
        LD_INT("--batch", &a->batch, 1, 4096),
        LD_INT("--width", &a->width, 1, 512),
        LD_INT("--decoder-width", &a->decoder_width, 1, 512),
        LD_FLOAT("--lr", &a->lr, 1e-8, 10),
        LD_U64("--seed", &a->seed),
        LD_INT("--threads", &a->threads, 1, 4096),
        LD_STRING("--resume", &a->resume),
        LD_CHOICE("--field-input", &a->field_input, field_inputs),
        LD_CHOICE("--blend", &a->blend, blends),
        LD_CHOICE("--carry-error", &a->carry_error, no_yes),
        LD_CHOICE("--mask-outside", &a->mask_outside, mask_modes),
        LD_CHOICE("--image-error", &a->image_abs, image_errors),
        LD_CHOICE("--precision", &a->precision, precisions),
        LD_FLAG("--tiles", &a->tiles),
        LD_FLAG("--quiet", &a->quiet),
    };
    ld_option options[sizeof fixed / sizeof *fixed + N_FLOAT_OPTIONS];
    int n = (int)(sizeof fixed / sizeof *fixed);
    memcpy(options, fixed, sizeof fixed);
    for (size_t k = 0; k < N_FLOAT_OPTIONS; k++) {
        a->floats[k] = -1;
        options[n++] = (ld_option)LD_FLOAT(float_options[k].option, &a->floats[k],
                                           float_options[k].lo, float_options[k].hi);
    }
    const char **const positional[] = {&a->input0, &a->input1};
    const ld_command_line cl = {"between", options, n, positional, 2, 2, "two input images"};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    a->method = (method_kind)method;
    if (rc)
        return rc;
    if (!a->out_dir)
        return ld_errf(err, "-o OUTDIR is required");
    if (!a->out_dir[0])
        return ld_errf(err, "-o: the output folder's name is empty");
    if (a->resume && !is_model(a->method))
        return ld_errf(err, "--resume continues a learned model (--method latent or image); "
                            "--method %s learns nothing", method_names[a->method]);
    if (a->resume && a->preset)
        return ld_errf(err, "--resume continues with the checkpoint's settings, not a preset's; "
                            "leave --preset out");
    if (!a->preset)
        a->preset = "quick";
    return 0;
}

/* The georeferencing the outputs carry: I0's, or I1's when only I1 has
 * one (said on stderr when both have one and they differ); from_tiff when
 * either input is a TIFF. */
static int read_georef(const between_args *a, ld_georef *geo, int quiet, ld_err *err)
{
    ld_georef other;
    if (ld_georef_read(a->input0, geo, err) || ld_georef_read(a->input1, &other, err))
        return -1;
    int has0 = ld_georef_present(geo), has1 = ld_georef_present(&other);
    if (!quiet && has0 != has1)
        fprintf(stderr, "between: only %s is georeferenced; the TIFF outputs carry its "
                        "georeferencing\n", has0 ? a->input0 : a->input1);
    if (!has0 && has1) {
        ld_georef swap = *geo;
        *geo = other;
        other = swap;
    } else if (!quiet && has1 && !ld_georef_equal(geo, &other)) {
        fprintf(stderr, "between: the georeferencing of %s differs from that of %s; the "
                        "TIFF outputs carry %s's\n", a->input1, a->input0, a->input0);
    }
    geo->from_tiff |= other.from_tiff;
    ld_georef_free(&other);
    return 0;
}

/* "8-bit integer", "16-bit integer", ... or "floating-point" into text
 * (integers wider than 16 bits are read as floating point). */
static void describe_samples(const ld_image *img, char text[48])
{
    if (img->is_float)
        snprintf(text, 48, "floating-point (or 32/64-bit integer)");
    else
        snprintf(text, 48, "%d-bit integer", img->bit_depth);
}

/* Loads both inputs (and the georeferencing to carry) and checks they can
 * be paired: the same size and the same kind of samples. A grey image is
 * paired with a colour one by repeating its band. */
static int load_pair(const between_args *a, ld_image *i0, ld_image *i1, ld_georef *geo,
                     int quiet, ld_err *err)
{
    memset(i0, 0, sizeof *i0);
    memset(i1, 0, sizeof *i1);
    if (ld_image_load(a->input0, i0, err) || ld_image_load(a->input1, i1, err) ||
        read_georef(a, geo, quiet, err))
        return -1;
    if (i0->height != i1->height || i0->width != i1->width)
        return ld_errf(err, "the images differ in size: %s is %dx%d, %s is %dx%d", a->input0,
                       i0->width, i0->height, a->input1, i1->width, i1->height);
    if (i0->is_float != i1->is_float || i0->bit_depth != i1->bit_depth) {
        char kind0[48], kind1[48];
        describe_samples(i0, kind0);
        describe_samples(i1, kind1);
        return ld_errf(err, "%s holds %s samples and %s %s ones: their values are on different "
                            "scales, so the change between them would be mostly that; convert "
                            "one to the other's type first", a->input0, kind0, a->input1, kind1);
    }
    if (i0->channels != i1->channels) {
        ld_image *grey = i0->channels == 1 ? i0 : i1->channels == 1 ? i1 : NULL;
        if (!grey)
            return ld_errf(err, "the images differ in channels: %d and %d", i0->channels,
                           i1->channels);
        if (!quiet)
            fprintf(stderr, "between: %s is grey, the other image has %d channels: its band is "
                            "repeated\n", grey == i0 ? a->input0 : a->input1,
                    grey == i0 ? i1->channels : i0->channels);
        if (ld_image_expand_channels(grey, grey == i0 ? i1->channels : i0->channels, err))
            return -1;
    }
    return 0;
}

/* The decoder's full-resolution width (0 in a configuration: the U-Net's). */
static int decoder_width(const ld_between_config *cfg)
{
    return cfg->decoder_widths[0] ? cfg->decoder_widths[0] : cfg->unet_widths[0];
}

/* Fails, naming the option, when options change the shape of a resumed
 * model's networks (its weights would not fit them). */
static int reshapes_networks(const between_args *a, const ld_between_config *trained,
                             const ld_between_config *cfg, ld_err *err)
{
    const struct {
        const char *option;
        int was, now;
    } shapes[] = {
        {"--stages", trained->stages, cfg->stages},
        {"--width", trained->unet_widths[0], cfg->unet_widths[0]},
        {"--decoder-width", decoder_width(trained), decoder_width(cfg)},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        if (shapes[k].was != shapes[k].now)
            return ld_errf(err, "%s was trained with %s %d; %s %d changes its networks: give %d, "
                                "or train a new model (no --resume)",
                           a->resume, shapes[k].option, shapes[k].was, shapes[k].option,
                           shapes[k].now, shapes[k].was);
    if (cfg->field_input != trained->field_input)
        return ld_errf(err, "%s was trained with --field-input %s; give that, or train a new "
                            "model (no --resume)",
                       a->resume, field_inputs[trained->field_input]);
    return 0;
}

/* The image method has no encoder or decoder (both the identity): the
 * options that act only on them would be listed in the report as used
 * while doing nothing, so they are refused. */
static int refuse_decoder_options(const between_args *a, ld_err *err)
{
    static const char *const decoder_only[] = {"--w-ae", "--shrink", "--w-image"};
    const char *given = a->decoder_width > 0   ? "--decoder-width"
                        : a->carry_error >= 0 ? "--carry-error"
                        : a->image_abs >= 0   ? "--image-error"
                                              : NULL;
    for (size_t k = 0; k < N_FLOAT_OPTIONS && !given; k++)
        for (size_t d = 0; d < sizeof decoder_only / sizeof decoder_only[0]; d++)
            if (a->floats[k] >= 0 && !strcmp(float_options[k].option, decoder_only[d]))
                given = decoder_only[d];
    if (given)
        return ld_errf(err, "%s acts on the encoder and decoder, which --method image does not "
                            "have (both are the identity); leave it out",
                       given);
    return 0;
}

/* Builds the model configuration from the preset (or the checkpoint being
 * resumed) and the options. */
static int make_config(const between_args *a, int channels, ld_between_config *cfg, ld_err *err)
{
    ld_between_config trained = {0}; /* the resumed model's */
    if (a->resume) {
        if (ld_between_read_config(a->resume, cfg, err))
            return -1;
        trained = *cfg;
        if (cfg->channels != channels)
            return ld_errf(err, "%s was trained on %d-channel images, these have %d", a->resume,
                           cfg->channels, channels);
    } else if (ld_between_preset(a->preset, channels, cfg, err)) {
        return -1;
    }
    if (is_model(a->method)) /* a resumed image model stays one only with --method image */
        cfg->method = a->method == METHOD_IMAGE ? LD_BETWEEN_IMAGE : LD_BETWEEN_LATENT;
    if (a->stages > 0)
        cfg->stages = a->stages;
    if (a->patch > 0)
        cfg->patch = a->patch;
    if (a->stride > 0)
        cfg->stride = a->stride;
    if (a->patch > 0 && a->stride <= 0 && cfg->stride > cfg->patch)
        cfg->stride = cfg->patch;
    if (a->patch > 0)
        cfg->infer_stride = cfg->patch / 2;
    if (a->infer_stride > 0 && a->tiles)
        return ld_errf(err, "--tiles and --infer-stride both set the inference stride; give one");
    if (a->infer_stride > 0)
        cfg->infer_stride = a->infer_stride;
    if (a->tiles)
        cfg->infer_stride = cfg->patch;
    if (a->steps >= 0)
        cfg->steps = a->steps;
    if (a->decay_every > 0)
        cfg->lr_decay_every = a->decay_every;
    if (a->batch > 0)
        cfg->batch = a->batch;
    if (a->width > 0)
        ld_between_widths(cfg->unet_widths, a->width);
    if (a->decoder_width > 0)
        ld_between_widths(cfg->decoder_widths, a->decoder_width);
    if (a->lr > 0)
        cfg->lr = a->lr;
    if (a->field_input >= 0)
        cfg->field_input = a->field_input;
    if (a->blend >= 0)
        cfg->blend = a->blend;
    if (a->carry_error >= 0)
        cfg->carry_error = a->carry_error;
    if (a->mask_outside >= 0)
        cfg->mask_outside = a->mask_outside;
    if (a->image_abs >= 0)
        cfg->image_abs = a->image_abs;
    for (size_t k = 0; k < N_FLOAT_OPTIONS; k++)
        if (a->floats[k] >= 0)
            *(float *)((char *)cfg + float_options[k].offset) = a->floats[k];
    if (a->method == METHOD_IMAGE && refuse_decoder_options(a, err))
        return -1;
    if (a->mask_outside == LD_MASK_IMAGE && !(cfg->w_image > 0 && cfg->method == LD_BETWEEN_LATENT))
        return ld_errf(err, "--mask-outside image masks the image term, which this run does not "
                            "have (%s); use all or no",
                       cfg->method == LD_BETWEEN_IMAGE ? "--method image" : "its --w-image is 0");
    if (a->image_abs >= 0 && !(cfg->w_image > 0) && cfg->method == LD_BETWEEN_LATENT)
        return ld_errf(err, "--image-error sets how the image term scores, and this run's "
                            "--w-image is 0; leave it out or give --w-image");
    if (a->resume && is_model(a->method) && trained.method != cfg->method) {
        const char *name = trained.method == LD_BETWEEN_IMAGE ? "image" : "latent";
        return ld_errf(err, "%s holds a model of the %s method: resume it with --method %s",
                       a->resume, name, name);
    }
    if (a->resume && is_model(a->method) && reshapes_networks(a, &trained, cfg, err))
        return -1;
    return ld_between_config_check(cfg, err);
}

/* mkdir -p path; *made_from (when it was < 0) becomes the length of the
 * first prefix of path that this call created, so remove_made_dirs can
 * take away what a failed run made. */
static int make_dirs(const char *path, int *made_from, ld_err *err)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return ld_errf(err, "%s: path too long", path);
    strcpy(buf, path);
    for (size_t end = 1; end <= len; end++) {
        if (end < len && buf[end] != '/')
            continue;
        buf[end] = 0;
        if (mkdir(buf, 0777) == 0) {
            if (*made_from < 0)
                *made_from = (int)end;
        } else if (errno != EEXIST) {
            return ld_errf(err, "cannot create %s: %s", buf, strerror(errno));
        }
        buf[end] = path[end];
    }
    if (!ld_dir_exists(path))
        return ld_errf(err, "%s exists and is not a folder", path);
    return 0;
}

/* Removes the folders make_dirs created for path (from made_from on), as
 * far as they are empty. */
static void remove_made_dirs(const char *path, int made_from)
{
    char buf[4096];
    if (made_from < 0 || strlen(path) >= sizeof buf)
        return;
    strcpy(buf, path);
    while ((int)strlen(buf) >= made_from && rmdir(buf) == 0) {
        char *slash = strrchr(buf, '/');
        if (!slash)
            break;
        *slash = 0;
    }
}

/* The training log kept in memory and written as log.csv: one row per
 * step, a resumed run's earlier rows first (read_earlier_log). */
typedef struct log_row {
    int64_t step;
    ld_between_losses l;
    float lr, wall; /* wall: seconds of training up to this step, over every run */
} log_row;

typedef struct train_log {
    log_row *rows;
    int count, cap;
} train_log;

#define LOG_HEADER "step,loss,dynamics,autoencoder,magnitude,smooth_space,smooth_time,backward," \
                   "image,lr,wall_s\n"

static int log_reserve(train_log *log, int64_t more, ld_err *err)
{
    if (more < 0 || more > INT_MAX - log->count)
        return ld_errf(err, "too many training steps to log (%lld)", (long long)more);
    int need = log->count + (int)more;
    if (need <= log->cap)
        return 0;
    int cap = log->cap <= INT_MAX / 2 && 2 * log->cap > need ? 2 * log->cap : need;
    log_row *rows = realloc(log->rows, (size_t)(cap ? cap : 1) * sizeof *rows);
    if (!rows)
        return ld_errf(err, "out of memory for the training log");
    log->rows = rows;
    log->cap = cap;
    return 0;
}

/* The rows up to step `upto` of the log.csv beside a checkpoint being
 * resumed (an earlier run's: its folder's log), so the log and the loss
 * curve cover the whole training. Nothing when there is none or it is
 * not one of ours; a row that does not read ends the rows taken. */
static int read_earlier_log(const char *checkpoint, int64_t upto, train_log *log, ld_err *err)
{
    char path[4096];
    const char *slash = strrchr(checkpoint, '/');
    int dir_len = slash ? (int)(slash - checkpoint) + 1 : 0;
    if (snprintf(path, sizeof path, "%.*slog.csv", dir_len, checkpoint) >= (int)sizeof path)
        return 0;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char line[512];
    int rc = 0;
    if (fgets(line, sizeof line, fp) && !strcmp(line, LOG_HEADER)) {
        while (fgets(line, sizeof line, fp)) {
            log_row r;
            long long step;
            if (sscanf(line, "%lld,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g", &step, &r.l.total,
                       &r.l.dynamics, &r.l.autoencoder, &r.l.magnitude, &r.l.smooth_space,
                       &r.l.smooth_time, &r.l.backward, &r.l.image, &r.lr, &r.wall) != 11 ||
                step > upto || (log->count && step <= log->rows[log->count - 1].step))
                break;
            r.step = step;
            if ((rc = log_reserve(log, 1, err)))
                break;
            log->rows[log->count++] = r;
        }
    }
    fclose(fp);
    return rc;
}

static int write_log_csv(const char *out_dir, const train_log *log, ld_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/log.csv", out_dir);
    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err))
        return -1;
    fputs(LOG_HEADER, f.fp);
    for (int i = 0; i < log->count; i++) {
        const log_row *r = &log->rows[i];
        fprintf(f.fp, "%lld,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g,%.3f\n",
                (long long)r->step, r->l.total, r->l.dynamics, r->l.autoencoder, r->l.magnitude,
                r->l.smooth_space, r->l.smooth_time, r->l.backward, r->l.image, r->lr, r->wall);
    }
    return ld_atomic_commit(&f, err);
}

/* The log so far and then the checkpoint, so a stopped or killed run can
 * be resumed with its history (a log ahead of its checkpoint is cut back
 * on resuming; one behind it would lose rows). */
static int save_progress(const ld_between_trainer *t, const char *ckpt, const char *out_dir,
                         const train_log *log, ld_err *err)
{
    return write_log_csv(out_dir, log, err) || ld_between_save(t, ckpt, err) ? -1 : 0;
}

/* Settings of the run for the report: the inputs and the model
 * configuration, its enumerated settings by name (baselines: method and
 * stages). */
/* Writes OUTDIR's files; with fields, checks them first (ld_field_check_run,
 * PSNR peak the pair's display range), tells the report and fills *check
 * (check->kept < 0 without fields). */
static int write_outputs(const between_args *a, const ld_between_config *cfg, const ld_image *i0,
                         const ld_image *i1, const ld_georef *geo, const float *frames,
                         const float *fields, const train_log *log, ld_field_check *check,
                         ld_err *err)
{
    check->kept = -1;
    ld_config settings;
    ld_config_init(&settings);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    int model = is_model(a->method);
    int rc = ld_config_set(&settings, "input I0", a->input0, err) ||
             ld_config_set(&settings, "input I1", a->input1, err) ||
             ld_config_set(&settings, "seed", seed, err) ||
             (a->resume && ld_config_set(&settings, "resumed from", a->resume, err)) ||
             (model && ld_config_set(&settings, "preset", a->resume ? "(checkpoint)" : a->preset, err)) ||
             (model ? ld_between_config_save(cfg, &settings, err)
                    : ld_config_set(&settings, "stages", (snprintf(seed, sizeof seed, "%d",
                                                                   cfg->stages), seed), err)) ||
             /* names over the configuration's numbers (set in place) */
             ld_config_set(&settings, "method", method_names[a->method], err) ||
             (model && ld_config_set(&settings, "precision", precisions[a->precision], err)) ||
             (model && (ld_config_set(&settings, "field_input", field_inputs[cfg->field_input], err) ||
                        ld_config_set(&settings, "blend", blends[cfg->blend], err) ||
                        ld_config_set(&settings, "carry_error", no_yes[cfg->carry_error], err) ||
                        ld_config_set(&settings, "mask_outside", mask_modes[cfg->mask_outside],
                                      err) ||
                        ld_config_set(&settings, "image_abs", image_errors[cfg->image_abs], err)));
    float *steps = calloc((size_t)log->count + 1, sizeof *steps);
    float *losses = calloc((size_t)log->count + 1, sizeof *losses);
    if (!rc && (!steps || !losses))
        rc = ld_errf(err, "out of memory");
    if (!rc) {
        for (int i = 0; i < log->count; i++) {
            steps[i] = (float)log->rows[i].step;
            losses[i] = log->rows[i].l.total;
        }
        ld_between_outputs o = {
            .stages = cfg->stages, .channels = i0->channels, .height = i0->height,
            .width = i0->width, .frames = frames, .fields = fields, .input0 = i0->data,
            .input1 = i1->data, .loss_steps = steps, .losses = losses, .n_losses = log->count,
            .n_settings = settings.count, .setting_keys = (const char *const *)settings.keys,
            .setting_values = (const char *const *)settings.values, .georef = geo,
            .stopped = ld_stop_signal};
        ld_between_output_ranges(i0, i1, &o);
        if (fields) {
            rc = ld_field_check_run(i0->data, i1->data, i0->channels, i0->height, i0->width,
                                    fields, cfg->stages, o.display_hi - o.display_lo, check,
                                    err);
            o.check = check;
        }
        /* a signal while writing stops the write, the folder as it was */
        ld_stop_catch();
        rc = rc || ld_between_write_outputs(a->out_dir, &o, err);
        ld_stop_release();
    }
    free(steps);
    free(losses);
    ld_config_free(&settings);
    return rc ? -1 : 0;
}

static void report_ot(void *user, int done, int total, int iteration, double error)
{
    if (iteration > 0)
        ld_progress_update(user, done, "the next at iteration %d, error %.2e",
                           iteration, error);
    else
        ld_progress_update(user, done, "%s", "");
    (void)total;
}

static void report_patches(void *user, int done, int total)
{
    ld_progress *p = user;
    ld_progress_update(p, done, "inference");
    (void)total;
}

/* Trains (or resumes) and infers with the learned model. Returns 0, -1
 * on an error, or 128 + a signal's number when SIGINT or SIGTERM stopped
 * the training (its checkpoint saved; err says how to continue). */
static int run_model(const between_args *a, const ld_between_config *cfg, const ld_image *i0,
                     const ld_image *i1, float *frames, float *fields, train_log *log,
                     int *made_from, int *model_saved, ld_err *err)
{
    ld_between_model model;
    ld_between_trainer t;
    int rc = -1;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", a->out_dir);
    if (ld_between_create(&model, cfg, err))
        return -1;
    model.precision = (ld_precision)a->precision;
    ld_between_init_weights(&model, a->seed);
    if (ld_between_trainer_init(&t, &model, i0->data, i1->data, i0->height, i0->width, a->seed,
                                err)) {
        ld_between_free(&model);
        return -1;
    }
    /* the folder only once a resumed checkpoint has loaded: every way it
     * can fail (other shapes, a damaged file) leaves no folder behind */
    if ((a->resume && ld_between_resume(&t, a->resume, err)) ||
        make_dirs(a->out_dir, made_from, err))
        goto done;
    if ((a->resume && read_earlier_log(a->resume, t.step, log, err)) ||
        log_reserve(log, cfg->steps > t.step ? cfg->steps - t.step : 0, err))
        goto done;
    /* wall times go on from the earlier runs' */
    float wall_before = log->count ? log->rows[log->count - 1].wall : 0.0f;
    if (!a->quiet)
        fprintf(stderr, "between: %s method, %zu parameters, %d threads, %s products, %d patch "
                        "pairs of %dx%d, steps %lld..%d\n", method_names[a->method],
                ld_params_trainable(&model.params), omp_get_max_threads(),
                a->precision == LD_PRECISION_BF16 ? "bfloat16" : "float32",
                ld_patch_count(&t.grid), cfg->patch, cfg->patch, (long long)t.step, cfg->steps);
    if (!a->quiet && t.step > cfg->steps)
        fprintf(stderr, "between: %s has done %lld steps, --steps %d: nothing to train (a "
                        "larger --steps trains on)\n", a->resume, (long long)t.step, cfg->steps);
    ld_progress prog;
    ld_progress_start(&prog, t.step, cfg->steps, "step", "steps", a->quiet);
    double start = ld_now_seconds();
    ld_stop_catch();
    while (t.step < cfg->steps) {
        int sig = ld_stop_signal();
        if (sig) {
            if (save_progress(&t, ckpt, a->out_dir, log, err))
                goto done;
            ld_errf(err, "stopped by %s at step %lld of %d; the training so far is in %s: "
                         "continue with --resume %s (and the same options)",
                    ld_stop_signal_name(sig), (long long)t.step, cfg->steps, ckpt, ckpt);
            rc = 128 + sig;
            goto done;
        }
        ld_between_losses l;
        if (ld_between_train_step(&t, &l, err))
            goto done;
        log->rows[log->count++] = (log_row){t.step, l, (float)t.opt.lr,
                                            wall_before + (float)(ld_now_seconds() - start)};
        ld_progress_update(&prog, t.step, "loss %.4g (dyn %.3g ae %.3g back %.3g mag %.3g "
                                          "sx %.3g st %.3g img %.3g)", l.total, l.dynamics,
                           l.autoencoder, l.backward, l.magnitude, l.smooth_space, l.smooth_time,
                           l.image);
        if (t.step % 500 == 0 && t.step < cfg->steps &&
            save_progress(&t, ckpt, a->out_dir, log, err))
            goto done;
    }
    ld_stop_release();
    if (save_progress(&t, ckpt, a->out_dir, log, err))
        goto done;
    *model_saved = 1;
    ld_between_trainer_free(&t); /* its arena and Adam moments are not needed for inference */
    ld_progress_start(&prog, 0, 0, "patch", "patches", a->quiet);
    ld_patch_grid grid;
    if (ld_patch_grid_init(&grid, i0->height, i0->width, cfg->patch, cfg->infer_stride, err))
        goto done;
    prog.total = ld_patch_count(&grid);
    rc = ld_between_infer(&model, i0->data, i1->data, i0->height, i0->width,
                          cfg->infer_stride < cfg->patch ? LD_STITCH_BLEND : LD_STITCH_TILES,
                          frames, fields, report_patches, &prog, err);
done:
    ld_stop_release();
    ld_between_trainer_free(&t);
    ld_between_free(&model);
    return rc;
}

int ld_cmd_between(int argc, char **argv)
{
    between_args a;
    ld_err err = {{0}};
    ld_image i0 = {0}, i1 = {0};
    ld_georef geo = {0};
    ld_between_config cfg;
    train_log log = {0};
    float *frames = NULL, *fields = NULL;
    int status = 1, made_from = -1, model_saved = 0;
    int rc = ld_cli_parsed(parse_between_args(argc, argv, &a, &err), "between", between_usage,
                           &err);
    if (rc >= 0)
        return rc;
    if (a.threads)
        omp_set_num_threads(a.threads);
    if (is_model(a.method) && a.precision == LD_PRECISION_BF16 &&
        !ld_backend_cpu()->conv->has_bf16()) {
        ld_errf(&err, "--precision bf16 needs a CPU that multiplies bfloat16 on AMX tiles, "
                      "which this one does not have; use --precision f32");
        goto done;
    }
    if (load_pair(&a, &i0, &i1, &geo, a.quiet, &err) || make_config(&a, i0.channels, &cfg, &err))
        goto done;
    /* Only the learned methods cut patches; the baselines take any size. */
    if (is_model(a.method) && (i0.height < cfg.patch || i0.width < cfg.patch)) {
        ld_errf(&err, "the images (%dx%d) are smaller than the patch (%d); use a smaller --patch",
                i0.width, i0.height, cfg.patch);
        goto done;
    }
    size_t plane = (size_t)i0.height * (size_t)i0.width;
    int N = cfg.stages, C = i0.channels;
    frames = malloc((size_t)(N + 1) * C * plane * sizeof(float));
    fields = malloc((size_t)N * 2 * plane * sizeof(float));
    if (!frames || !fields) {
        ld_errf(&err, "out of memory for %d frames of %dx%d", N + 1, i0.width, i0.height);
        goto done;
    }
    if (!is_model(a.method) && make_dirs(a.out_dir, &made_from, &err)) /* models: in run_model */
        goto done;
    double start = ld_now_seconds();
    int has_fields = 1;
    switch (a.method) {
    case METHOD_LATENT:
    case METHOD_IMAGE:
        rc = run_model(&a, &cfg, &i0, &i1, frames, fields, &log, &made_from, &model_saved,
                       &err);
        if (rc > 0) /* stopped by a signal: 128 + its number */
            status = rc;
        break;
    case METHOD_CROSSFADE:
        has_fields = 0;
        rc = ld_baseline_crossfade(i0.data, i1.data, C, i0.height, i0.width, N, frames, &err);
        break;
    case METHOD_OT: {
        has_fields = 0;
        ld_ot_options ot;
        ld_ot_default_options(&ot);
        ld_progress progress;
        ld_progress_start(&progress, 0, (int64_t)C * (N - 1), "barycentre", "barycentres",
                          a.quiet);
        ot.progress = report_ot;
        ot.progress_user = &progress;
        rc = ld_baseline_ot(i0.data, i1.data, C, i0.height, i0.width, N, &ot, frames, &err);
        break;
    }
    case METHOD_FLOW:
        rc = ld_baseline_flow(i0.data, i1.data, C, i0.height, i0.width, N, NULL, frames, fields,
                              &err);
        break;
    }
    if (rc)
        goto done;
    ld_field_check check;
    if (write_outputs(&a, &cfg, &i0, &i1, &geo, frames, has_fields ? fields : NULL, &log, &check,
                      &err)) {
        int sig = ld_stop_signal();
        if (sig) {
            status = 128 + sig;
            ld_errf(&err, "stopped by %s while writing the outputs; %s holds its earlier "
                          "outputs unchanged%s%s%s", ld_stop_signal_name(sig), a.out_dir,
                    model_saved ? " (the trained model: " : "", model_saved ? a.out_dir : "",
                    model_saved ? "/model.safetensors, --resume it to write them)" : "");
        }
        goto done;
    }
    if (check.kept >= 0) {
        char text[LD_CHECK_TEXT_CAP];
        ld_between_check_text(&check, text);
        printf("between: %s\n", text);
    }
    printf("between: %s method, %d stage%s, %dx%d, %.1f s; report: %s/report.html, frames: "
           "%s/frames/\n", method_names[a.method], N, N == 1 ? "" : "s", i0.width, i0.height,
           ld_now_seconds() - start, a.out_dir, a.out_dir);
    status = 0;
done:
    if (status == 1 && model_saved) /* failed after training: say how not to lose it */
        ld_err_suffix(&err, "; the trained model is in %s/model.safetensors: --resume it to "
                            "write the outputs without training again", a.out_dir);
    if (status)
        fprintf(stderr, "latdyn between: %s\n", err.msg);
    if (status)
        remove_made_dirs(a.out_dir, made_from); /* what this run made, when nothing is left */
    ld_image_free(&i0);
    ld_image_free(&i1);
    ld_georef_free(&geo);
    free(frames);
    free(fields);
    free(log.rows);
    return status;
}

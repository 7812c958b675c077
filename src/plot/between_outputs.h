/* Everything `latdyn between` writes into its output folder, each file
 * written whole or not at all (temporary name, then rename):
 *   frames.npy          float32 [N + 1, C, H, W], the input's units
 *   frames/frame_000.png .. frame_N.png   full resolution, the input's bit
 *                       depth; 1 or 3 channels as they are, 2 channels as
 *                       the false-colour composite R = band 0, G = band 1,
 *                       B = their mean, more than 3: bands 0..2 as RGB
 *   fields.npy          float32 [N, 2, H, W], x and y velocity in pixels
 *                       per unit time (only when there are fields)
 *   animation.gif       the N + 1 frames, looping (long side at most 512:
 *                       larger images are box-downsampled)
 *   fields/quiver_000.png .. quiver_{N-1}.png  stage n's velocity as arrows
 *                       over frame n, one arrow scale for all stages
 *   fields/streamlines.png  streamlines of the mean velocity over I0
 *   report.html         one self-contained page: inputs, time slider over
 *                       the frames and fields, how well the fields explain
 *                       the pair (the check, when given), streamlines,
 *                       loss curve, settings
 * and, when the inputs were TIFFs (georef->from_tiff):
 *   frames/frame_000.tif .. frame_N.tif   float32, every band, the input's
 *                       units
 *   fields/field_000.tif .. field_{N-1}.tif  float32, bands x and y
 *                       velocity in pixels per unit time
 * both GeoTIFFs carrying the input's georeferencing when it had one.
 * Without fields (baselines such as cross-fade) neither fields.npy nor
 * anything under fields/ is written, and the report says so. What an
 * earlier run left there under these names and this run does not write
 * (frames beyond N, another method's fields, TIFFs) is removed first, so
 * the folder's frames and fields are always one run's; that run is read
 * off its frames.npy and fields.npy, so numbered files no such array
 * accounts for (a folder of the user's own frames) are left alone. */
#ifndef LD_PLOT_BETWEEN_OUTPUTS_H
#define LD_PLOT_BETWEEN_OUTPUTS_H

#include "data/georef.h"
#include "data/image.h"
#include "data/metrics.h"
#include "engine/error.h"

typedef struct ld_between_outputs {
    int stages, channels, height, width; /* N, C, H, W */
    const float *frames;                 /* [N + 1, C, H, W], the input's units */
    const float *fields;                 /* [N, 2, H, W] pixels per unit time, or NULL */
    const float *input0, *input1;        /* [C, H, W], the input's units */
    int bit_depth;                       /* of the frame PNGs: 8 or 16 */
    float lo, hi;                        /* values mapped onto PNG codes 0 .. 2^bit_depth - 1 */
    float display_lo, display_hi;        /* shown black .. white in the GIF, the plots and
                                            the report; both 0: lo and hi */
    const float *loss_steps, *losses;    /* the loss curve, n_losses points (0: none) */
    int n_losses;
    int n_settings;                      /* the settings table of the report */
    const char *const *setting_keys, *const *setting_values;
    const char *title, *caption;         /* of the report; NULL: defaults */
    const ld_georef *georef;             /* of the inputs, or NULL; with from_tiff the
                                            float32 TIFFs above are written too, carrying it */
    const ld_field_check *check;         /* of the fields, told in the report, or NULL */
    int (*stopped)(void);                /* or NULL: asked before each file; nonzero (a
                                            signal) abandons the write */
} ld_between_outputs;

/* One sentence (at most LD_CHECK_TEXT_CAP bytes) telling what a field
 * check found, for the report and the command's last lines. */
#define LD_CHECK_TEXT_CAP 512
void ld_between_check_text(const ld_field_check *check, char *text);

/* bit_depth, lo, hi, display_lo and display_hi for a pair of inputs:
 * 8-bit inputs: 8, [0, 255] for both ranges; 16-bit: 16, [0, 65535] for
 * the PNGs and the joint min..max of the inputs for display; float
 * inputs, and integer ones with values outside those ranges (signed
 * samples): 16 and the joint min..max for both (widened by 1 when the
 * inputs are constant). */
void ld_between_output_ranges(const ld_image *i0, const ld_image *i1, ld_between_outputs *o);

/* Writes every file above into outdir, which must exist (the caller
 * creates it): all of them first into a hidden folder inside it
 * (.latdyn-writing-XXXXXX), then, once every one is written, renamed into
 * place, so the folder holds one whole run's outputs. Fails with a
 * one-line message naming the file when outdir is missing, not a folder,
 * or not writable, when a write fails or when o->stopped asks to stop;
 * then the folder's earlier outputs are left as they were. The caller
 * keeps SIGINT and SIGTERM from ending the process while it runs (they
 * only note a stop, which o->stopped reports). */
int ld_between_write_outputs(const char *outdir, const ld_between_outputs *o, ld_err *err);

#endif

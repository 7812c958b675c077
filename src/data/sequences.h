/* Image sequences of many instances of one dynamical system (the ladid data):
 * frames, their times and each instance's physical parameters, held in
 * memory and stored as HDF5:
 *   frames  float32 [n, L, C, H, W], values in [0, 1]
 *   times   float64 [n, L]
 *   params  float64 [n, k], attribute "names": the k parameter names
 *           (optional on reading: no dataset reads as k = 0, no names as
 *           "param0", "param1", ...)
 *   file attributes: "system" and the generator's settings. */
#ifndef LD_DATA_SEQUENCES_H
#define LD_DATA_SEQUENCES_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

#define LD_SEQ_NAME_LEN 32
#define LD_SEQ_MAX_PARAMS 8
#define LD_SEQ_MAX_ATTRS 24

typedef struct ld_sequences {
    int n, length, channels, height, width; /* n instances of `length` frames */
    float *frames;                           /* [n, length, channels, height, width] */
    double *times;                           /* [n, length] */
    int n_params;                            /* k */
    double *params;                          /* [n, k], may be NULL when k = 0 */
    char param_names[LD_SEQ_MAX_PARAMS][LD_SEQ_NAME_LEN];
    char system[LD_SEQ_NAME_LEN];            /* "pendulum", "reaction-diffusion", ... */
    int n_attrs;                             /* generator settings, as text */
    char attr_keys[LD_SEQ_MAX_ATTRS][LD_SEQ_NAME_LEN];
    char attr_values[LD_SEQ_MAX_ATTRS][64];
} ld_sequences;

/* Allocates zeroed frames/times/params for the given sizes. */
int ld_sequences_alloc(ld_sequences *s, int n, int length, int channels, int height,
                       int width, int n_params, ld_err *err);
void ld_sequences_free(ld_sequences *s);

/* Frame (i, t): channels*height*width floats. */
float *ld_sequences_frame(const ld_sequences *s, int instance, int t);

/* Adds (or replaces) a generator setting kept as a file attribute. */
int ld_sequences_set_attr(ld_sequences *s, const char *key, const char *value, ld_err *err);

/* HDF5 I/O. Writing goes to a temporary file renamed into place. Reading
 * checks that frames and times (and params, when present) are floating
 * point, with the right rank and consistent sizes, that frames, times and
 * params are finite, frames in [0, 1], and that each
 * instance's times increase strictly (a clear error otherwise). String
 * attributes are variable-length UTF-8; non-string root attributes of
 * files written elsewhere are ignored. */
int ld_sequences_write_h5(const char *path, const ld_sequences *s, ld_err *err);
int ld_sequences_read_h5(const char *path, ld_sequences *s, ld_err *err);

/* A 64-bit checksum of the sizes, frames and times (FNV-1a steps over
 * 8-byte words): equal data give equal sums, so a resumed run can tell
 * its data from other data. */
uint64_t ld_sequences_checksum(const ld_sequences *s);

/* A new set holding the instances listed in `which` (copies). */
int ld_sequences_select(const ld_sequences *s, const int *which, int count, ld_sequences *out,
                        ld_err *err);

#endif

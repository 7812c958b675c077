/* Georeferencing of GeoTIFF inputs, carried to GeoTIFF outputs (GDAL).
 *
 * A georeferenced TIFF places its pixels on the Earth either by an affine
 * geotransform with a coordinate system (map-projected products) or by
 * ground control points (GCPs: pixel, line -> x, y, z, as Sentinel-1 GRD
 * products have). ld_georef_read takes both from a TIFF; ld_georef_save_tiff
 * writes float32 bands with them as a GeoTIFF that GDAL, QGIS and other
 * ordinary tools place on the map. The pixel grid of `latdyn between`'s
 * outputs is the input's, so the input's georeferencing applies unchanged.
 * GDAL's messages are captured into the ld_err, never printed. */
#ifndef LD_DATA_GEOREF_H
#define LD_DATA_GEOREF_H

#include "engine/error.h"

typedef struct ld_georef_gcp {
    double pixel, line; /* position in the image, pixels from the top-left corner */
    double x, y, z;     /* position in the GCP coordinate system */
} ld_georef_gcp;

typedef struct ld_georef {
    int from_tiff;           /* the file was a TIFF (georeferenced or not) */
    int has_transform;       /* transform[] is set */
    double transform[6];     /* x = t0 + col t1 + row t2, y = t3 + col t4 + row t5 */
    char *projection;        /* WKT of the transform's system, or NULL */
    int gcp_count;
    ld_georef_gcp *gcps;     /* [gcp_count] */
    char *gcp_projection;    /* WKT of the GCPs' system, or NULL */
} ld_georef;

/* Reads the georeferencing of `path`. A file that is not a TIFF, or a TIFF
 * without georeferencing, gives an empty ld_georef (from_tiff tells which)
 * and success; a TIFF GDAL cannot open fails. Free with ld_georef_free. */
int ld_georef_read(const char *path, ld_georef *g, ld_err *err);

/* 1 when g places the image on the map (a transform or GCPs). */
int ld_georef_present(const ld_georef *g);

/* 1 when a and b place the pixels at the same positions in the same
 * systems (both empty counts as equal). */
int ld_georef_equal(const ld_georef *a, const ld_georef *b);

/* Writes data [bands, height, width] as a float32 TIFF, whole or not at
 * all; with g present, a GeoTIFF carrying g. band_names (may be NULL, or
 * hold NULLs) become the bands' descriptions. */
int ld_georef_save_tiff(const char *path, const float *data, int bands, int height, int width,
                        const ld_georef *g, const char *const *band_names, ld_err *err);

void ld_georef_free(ld_georef *g);

#endif

/* GeoTIFF georeferencing through GDAL: see georef.h. */
#include "data/georef.h"

#include <cpl_error.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/image.h"
#include "engine/atomic_file.h"

#define GDAL_MSG_LEN 256

/* GDAL's last error message while a call of this file runs (GDAL is used
 * from one thread at a time). */
static char gdal_msg[GDAL_MSG_LEN];

static void capture_gdal_error(CPLErr level, CPLErrorNum code, const char *msg)
{
    (void)code;
    if (level >= CE_Failure)
        snprintf(gdal_msg, sizeof gdal_msg, "%s", msg ? msg : "unknown GDAL error");
}

static void gdal_begin(void)
{
    static int registered;
    if (!registered) {
        GDALAllRegister();
        registered = 1;
    }
    gdal_msg[0] = '\0';
    CPLPushErrorHandler(capture_gdal_error);
}

static void gdal_end(void) { CPLPopErrorHandler(); }

/* The captured message, or `fallback` when GDAL gave none. */
static const char *gdal_reason(const char *fallback) { return gdal_msg[0] ? gdal_msg : fallback; }

/* A copy of a WKT string, NULL for none or empty. */
static int copy_wkt(char **out, const char *wkt, ld_err *err)
{
    *out = NULL;
    if (!wkt || !wkt[0])
        return 0;
    *out = malloc(strlen(wkt) + 1);
    if (!*out)
        return ld_errf(err, "out of memory for a coordinate system");
    strcpy(*out, wkt);
    return 0;
}

int ld_georef_read(const char *path, ld_georef *g, ld_err *err)
{
    memset(g, 0, sizeof *g);
    if (!ld_image_is_tiff(path))
        return 0;
    g->from_tiff = 1;
    gdal_begin();
    static const char *const tiff_only[] = {"GTiff", NULL};
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, tiff_only, NULL, NULL);
    int rc = 0;
    if (!ds) {
        rc = ld_errf(err, "%s: cannot read its georeferencing: %s", path,
                     gdal_reason("GDAL cannot open it"));
        goto done;
    }
    g->has_transform = GDALGetGeoTransform(ds, g->transform) == CE_None;
    if (copy_wkt(&g->projection, GDALGetProjectionRef(ds), err) ||
        copy_wkt(&g->gcp_projection, GDALGetGCPProjection(ds), err)) {
        rc = -1;
        goto done;
    }
    int n = GDALGetGCPCount(ds);
    const GDAL_GCP *gcps = GDALGetGCPs(ds);
    if (n > 0 && gcps) {
        g->gcps = malloc((size_t)n * sizeof *g->gcps);
        if (!g->gcps) {
            rc = ld_errf(err, "%s: out of memory for %d ground control points", path, n);
            goto done;
        }
        for (int i = 0; i < n; i++)
            g->gcps[i] = (ld_georef_gcp){gcps[i].dfGCPPixel, gcps[i].dfGCPLine, gcps[i].dfGCPX,
                                         gcps[i].dfGCPY, gcps[i].dfGCPZ};
        g->gcp_count = n;
    }
done:
    if (ds)
        GDALClose(ds);
    gdal_end();
    if (rc)
        ld_georef_free(g);
    return rc;
}

int ld_georef_present(const ld_georef *g) { return g && (g->has_transform || g->gcp_count > 0); }

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int ld_georef_equal(const ld_georef *a, const ld_georef *b)
{
    if (a->has_transform != b->has_transform || a->gcp_count != b->gcp_count ||
        !same_text(a->projection, b->projection) ||
        !same_text(a->gcp_projection, b->gcp_projection))
        return 0;
    for (int i = 0; a->has_transform && i < 6; i++)
        if (a->transform[i] != b->transform[i])
            return 0;
    for (int i = 0; i < a->gcp_count; i++)
        if (memcmp(&a->gcps[i], &b->gcps[i], sizeof a->gcps[i]))
            return 0;
    return 1;
}

/* Sets g's transform, system and GCPs on a dataset being created. */
static int apply_georef(GDALDatasetH ds, const ld_georef *g)
{
    double transform[6];
    memcpy(transform, g->transform, sizeof transform);
    if (g->has_transform && (GDALSetGeoTransform(ds, transform) != CE_None ||
                             (g->projection && GDALSetProjection(ds, g->projection) != CE_None)))
        return -1;
    if (g->gcp_count <= 0)
        return 0;
    GDAL_GCP *gcps = calloc((size_t)g->gcp_count, sizeof *gcps);
    char(*ids)[16] = calloc((size_t)g->gcp_count, sizeof *ids);
    int rc = -1;
    if (gcps && ids) {
        for (int i = 0; i < g->gcp_count; i++) {
            snprintf(ids[i], sizeof ids[i], "%d", i + 1);
            gcps[i] = (GDAL_GCP){ids[i], "", g->gcps[i].pixel, g->gcps[i].line, g->gcps[i].x,
                                 g->gcps[i].y, g->gcps[i].z};
        }
        rc = GDALSetGCPs(ds, g->gcp_count, gcps, g->gcp_projection ? g->gcp_projection : "") ==
                     CE_None
                 ? 0
                 : -1;
    }
    free(gcps);
    free(ids);
    return rc;
}

/* Writes the in-memory file `name` to `path` through an atomic file. */
static int write_memory_file(const char *name, const char *path, ld_err *err)
{
    vsi_l_offset len = 0;
    GByte *bytes = VSIGetMemFileBuffer(name, &len, TRUE);
    if (!bytes)
        return ld_errf(err, "%s: GDAL kept no TIFF to write", path);
    ld_atomic_file f;
    int rc = ld_atomic_open(&f, path, err);
    if (!rc && fwrite(bytes, 1, (size_t)len, f.fp) != (size_t)len) {
        ld_atomic_abort(&f);
        rc = ld_errf(err, "%s: write failed", path);
    } else if (!rc) {
        rc = ld_atomic_commit(&f, err);
    }
    VSIFree(bytes);
    return rc;
}

int ld_georef_save_tiff(const char *path, const float *data, int bands, int height, int width,
                        const ld_georef *g, const char *const *band_names, ld_err *err)
{
    if (bands < 1 || height < 1 || width < 1)
        return ld_errf(err, "%s: nothing to write (%d x %d x %d)", path, bands, height, width);
    static unsigned serial;
    char name[96];
    snprintf(name, sizeof name, "/vsimem/latdyn_%ld_%u.tif", (long)getpid(), serial++);
    gdal_begin();
    int rc = 0;
    GDALDriverH tiff = GDALGetDriverByName("GTiff");
    GDALDatasetH ds = tiff ? GDALCreate(tiff, name, width, height, bands, GDT_Float32, NULL)
                           : NULL;
    if (!ds) {
        rc = ld_errf(err, "%s: GDAL cannot create a TIFF: %s", path,
                     gdal_reason("no GTiff driver"));
        goto done;
    }
    if (ld_georef_present(g) && apply_georef(ds, g) != 0) {
        rc = ld_errf(err, "%s: GDAL cannot set the georeferencing: %s", path,
                     gdal_reason("out of memory"));
        goto done;
    }
    size_t plane = (size_t)height * width;
    for (int b = 0; b < bands && !rc; b++) {
        GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
        if (band_names && band_names[b])
            GDALSetDescription(band, band_names[b]);
        if (GDALRasterIO(band, GF_Write, 0, 0, width, height, (void *)(data + b * plane), width,
                         height, GDT_Float32, 0, 0) != CE_None)
            rc = ld_errf(err, "%s: GDAL cannot write band %d: %s", path, b + 1,
                         gdal_reason("unknown error"));
    }
done:
    if (ds) {
        GDALClose(ds);
        if (!rc && gdal_msg[0])
            rc = ld_errf(err, "%s: GDAL cannot finish the TIFF: %s", path, gdal_msg);
        if (!rc)
            rc = write_memory_file(name, path, err);
        VSIUnlink(name);
    }
    gdal_end();
    return rc;
}

void ld_georef_free(ld_georef *g)
{
    free(g->projection);
    free(g->gcps);
    free(g->gcp_projection);
    memset(g, 0, sizeof *g);
}

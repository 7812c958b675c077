/* `latdyn fit FILE.h5 -o model.safetensors`: trains the LaDID model
 * (ladid.md) on a set of trajectories, with the train/validation split by
 * instance, the growing-horizon curriculum and best-validation
 * checkpoints; and the training loop that `finetune` shares (fit.h). */
#include "cli/fit.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <omp.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/stop.h"
#include "engine/atomic_file.h"
#include "plot/canvas.h"

int ld_fit_sibling(const char *out, const char *suffix, char *buf, size_t len, ld_err *err)
{
    size_t n = strlen(out), ext = strlen(".safetensors");
    if (n > ext && !strcmp(out + n - ext, ".safetensors"))
        n -= ext;
    if (n + strlen(suffix) + 1 > len)
        return ld_errf(err, "%s: path too long", out);
    memcpy(buf, out, n);
    strcpy(buf + n, suffix);
    return 0;
}

/* Fails when path names the same file as one of inputs. */
static int refuse_input(const char *path, const char *const *inputs, ld_err *err)
{
    struct stat st, in;
    if (stat(path, &st) != 0)
        return 0;
    for (; *inputs; inputs++)
        if (stat(*inputs, &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino)
            return ld_errf(err, "%s is the input %s: writing there would destroy it; name "
                                "another output",
                           path, *inputs);
    return 0;
}

int ld_fit_check_output(const char *path, const char *const *inputs, ld_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ld_errf(err, "%s is %s: name a file to write", path,
                       S_ISDIR(st.st_mode) ? "a folder" : "not a regular file");
    if (refuse_input(path, inputs, err))
        return -1;
    ld_atomic_file probe;
    if (ld_atomic_open(&probe, path, err))
        return -1;
    ld_atomic_abort(&probe);
    return 0;
}

int ld_fit_check_outputs(const char *out, const char *const *inputs, ld_err *err)
{
    static const char *const suffixes[] = {".last.safetensors", ".log.csv",
                                           ".stage0.safetensors"};
    char path[4096];
    if (ld_fit_check_output(out, inputs, err))
        return -1;
    for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++)
        if (ld_fit_sibling(out, suffixes[k], path, sizeof path, err) ||
            ld_fit_check_output(path, inputs, err))
            return -1;
    /* a run removes the stage files beside out that it did not write */
    for (int stage = 1; stage < 64; stage++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".stage%d.safetensors", stage);
        if (ld_fit_sibling(out, suffix, path, sizeof path, err) || refuse_input(path, inputs, err))
            return -1;
    }
    return 0;
}

int ld_fit_validate(ld_ladid_model *m, const ld_sequences *val, double *nmse, ld_err *err)
{
    int Q = val->length - m->cfg.context;
    double *per = malloc((size_t)(Q > 0 ? Q : 1) * sizeof *per);
    if (!per)
        return ld_errf(err, "out of memory");
    int rc = ld_ladid_evaluate(m, val, per, NULL, err);
    *nmse = 0;
    for (int k = 0; !rc && k < Q; k++)
        *nmse += per[k] / Q;
    free(per);
    return rc;
}

/* Optimiser steps of epochs first..last-1 (for the ETA). */
static int64_t planned_steps(const ld_ladid_trainer *t, int first, int last)
{
    int64_t total = 0;
    for (int e = first; e < last; e++)
        total += ld_ladid_epoch_steps(t, e);
    return total;
}

static const char log_header[] =
    "epoch,step,q,loss,reconstruction,latent,prior,mse,val_nmse,best,lr,wall_s\n";

/* N when text is exactly ".stageN.safetensors" (N in decimal, without
 * leading zeros, as fit names its stage files), else -1. */
static int stage_suffix(const char *text)
{
    if (strncmp(text, ".stage", 6))
        return -1;
    const char *digits = text + 6;
    size_t count = strspn(digits, "0123456789");
    if (count < 1 || count > 6 || (count > 1 && digits[0] == '0') ||
        strcmp(digits + count, ".safetensors"))
        return -1;
    return atoi(digits);
}

/* The log beside a checkpoint STEM.last.safetensors or
 * STEM.stageK.safetensors: STEM.log.csv (the run it came from, wherever
 * this run writes); `fallback` for a checkpoint named otherwise. */
static void log_of_checkpoint(const char *ckpt, const char *fallback, char *buf, size_t len)
{
    static const char last[] = ".last.safetensors";
    size_t n = strlen(ckpt), stem = n;
    if (n > sizeof last - 1 && !strcmp(ckpt + n - (sizeof last - 1), last))
        stem = n - (sizeof last - 1);
    else
        for (const char *p = strstr(ckpt, ".stage"); p; p = strstr(p + 1, ".stage"))
            if (stage_suffix(p) >= 0)
                stem = (size_t)(p - ckpt);
    if (stem == n || (size_t)snprintf(buf, len, "%.*s.log.csv", (int)stem, ckpt) >= len)
        snprintf(buf, len, "%s", fallback);
}

/* The log text kept in memory: the header, then (resuming) the rows of the
 * log beside the checkpoint for its first `epochs_done` epochs, rows of
 * later epochs (those the resumed run redoes) dropped; *wall gets the
 * wall_s of the last row kept, from which the run's times go on. */
static int log_start(ld_bytes *log, const char *path, int resuming, int epochs_done,
                     double *wall, ld_err *err)
{
    memset(log, 0, sizeof *log);
    *wall = 0;
    if (ld_bytes_append(log, log_header, sizeof log_header - 1))
        return ld_errf(err, "out of memory");
    FILE *f = resuming ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, first = 1;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        if (first) { /* the header */
            first = 0;
            continue;
        }
        char *end;
        long epoch = strtol(line, &end, 10);
        const char *comma = strrchr(line, ',');
        if (end == line || *end != ',' || epoch < 1 || epoch > epochs_done || !comma ||
            line[len - 1] != '\n')
            continue;
        *wall = strtod(comma + 1, NULL);
        rc = ld_bytes_append(log, line, (size_t)len);
    }
    free(line);
    fclose(f);
    return rc ? ld_errf(err, "out of memory") : 0;
}

/* Removes the STEM.stageN.safetensors files beside out (exactly that
 * pattern, N without leading zeros) that this run did not write (bit N of
 * written) unless N <= kept, the stages of the run resumed. */
static int remove_stale_stages(const char *out, uint64_t written, int kept, ld_err *err)
{
    char stem[4096], dir[4096];
    if (ld_fit_sibling(out, "", stem, sizeof stem, err))
        return -1;
    const char *slash = strrchr(stem, '/'), *base = slash ? slash + 1 : stem;
    if (!slash)
        strcpy(dir, ".");
    else if (slash == stem)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - stem), stem);
    size_t base_len = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* nothing to tidy where nothing can be listed */
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        int stage = strncmp(name, base, base_len) ? -1 : stage_suffix(name + base_len);
        if (stage < 0)
            continue;
        int wrote = stage < 64 && ((written >> stage) & 1);
        if (!wrote && stage > kept)
            rc = ld_remove_output(dir, name, err);
    }
    closedir(d);
    return rc;
}

int ld_fit_run(const ld_fit_job *job, ld_ladid_model *m, const ld_sequences *train,
               const ld_sequences *val, ld_err *err)
{
    const ld_ladid_config *c = &m->cfg;
    char last[4096], log_path[4096], stage_path[4096];
    if (ld_fit_sibling(job->out, ".last.safetensors", last, sizeof last, err) ||
        ld_fit_sibling(job->out, ".log.csv", log_path, sizeof log_path, err))
        return -1;
    ld_ladid_trainer t;
    ld_bytes log = {0};
    int rc = -1;
    if (ld_ladid_trainer_init(&t, m, train, job->seed, err))
        return -1;
    t.data_id = job->data_id;
    if (job->resume && ld_ladid_resume(&t, job->resume, err))
        goto done;
    if (t.epoch >= c->epochs) {
        ld_errf(err, "nothing to train: the model has done %d of %d epochs (raise --epochs)",
                t.epoch, c->epochs);
        goto done;
    }
    /* stages up to the resumed one belong to the run continued */
    const int kept_stages = job->resume ? t.best_stage : -1;
    uint64_t written_stages = 0;
    double wall_before;
    char earlier_log[4096];
    log_of_checkpoint(job->resume ? job->resume : "", log_path, earlier_log, sizeof earlier_log);
    if (log_start(&log, earlier_log, job->resume != NULL, t.epoch, &wall_before, err))
        goto done;
    if (!job->quiet)
        fprintf(stderr, "%s: %zu parameters, %d threads; %d training and %d validation "
                        "trajectories of %d frames %dx%dx%d; epochs %d..%d, context %d, "
                        "curriculum every %d epochs\n", job->command,
                ld_params_trainable(&m->params), omp_get_max_threads(), train->n, val->n,
                train->length, c->channels, c->size, c->size, t.epoch + 1, c->epochs,
                c->context, c->curriculum_every);
    ld_progress prog;
    ld_progress_start(&prog, t.step, t.step + planned_steps(&t, t.epoch, c->epochs), "step",
                      "steps", job->quiet);
    double start = ld_now_seconds();
    int sig = 0;
    ld_stop_catch();
    while (t.epoch < c->epochs) {
        int epoch = t.epoch;
        ld_ladid_epoch_begin(&t);
        int q = t.q, stage = t.stage;
        ld_ladid_losses l, sum = {0};
        int steps = 0, s;
        while ((s = ld_ladid_train_step(&t, &l, err)) == 0) {
            sum.total += l.total;
            sum.reconstruction += l.reconstruction;
            sum.latent += l.latent;
            sum.prior += l.prior;
            sum.mse += l.mse;
            steps++;
            ld_progress_update(&prog, t.step, "epoch %d/%d q %d  loss %.4g (rec %.4g lat %.3g "
                               "prior %.3g) mse %.4g", epoch + 1, c->epochs, q, l.total,
                               l.reconstruction, l.latent, l.prior, l.mse);
            if ((sig = ld_stop_signal()) != 0)
                break;
        }
        if (s < 0)
            goto done;
        if (sig) { /* checkpoints are whole epochs: the last one stands */
            if (epoch == 0)
                ld_errf(err, "stopped by %s during the first epoch: nothing saved",
                        ld_stop_signal_name(sig));
            else
                ld_errf(err, "stopped by %s during epoch %d of %d; %s holds the state after "
                             "epoch %d: continue with %s--resume %s", ld_stop_signal_name(sig),
                        epoch + 1, c->epochs, last, epoch,
                        strcmp(job->command, "fit") ? "the same command and " : "", last);
            rc = 128 + sig;
            goto done;
        }
        float inv = 1.0f / (float)steps;
        double metric = sum.mse * inv;
        if (val->n && ld_fit_validate(m, val, &metric, err))
            goto done;
        int best = ld_ladid_epoch_end(&t, metric);
        if (ld_ladid_save(&t, last, err))
            goto done;
        if (best) {
            char suffix[64];
            snprintf(suffix, sizeof suffix, ".stage%d.safetensors", stage);
            if (ld_fit_sibling(job->out, suffix, stage_path, sizeof stage_path, err) ||
                ld_ladid_save(&t, stage_path, err) || ld_ladid_save(&t, job->out, err))
                goto done;
            if (stage < 64)
                written_stages |= 1ull << stage;
        }
        char row[512];
        int n = snprintf(row, sizeof row, "%d,%lld,%d,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g,%d,%.7g,%.3f\n",
                         epoch + 1, (long long)t.step, q, sum.total * inv,
                         sum.reconstruction * inv, sum.latent * inv, sum.prior * inv,
                         sum.mse * inv, metric, best, t.opt.lr,
                         wall_before + ld_now_seconds() - start);
        if (ld_bytes_append(&log, row, (size_t)n)) {
            ld_errf(err, "out of memory");
            goto done;
        }
        if (ld_bytes_write_file(log_path, &log, err))
            goto done;
        if (!job->quiet && val->n)
            fprintf(stderr, "epoch %d/%d  q %d  loss %.4g  train mse %.4g  val nMSE %.4g%s\n",
                    epoch + 1, c->epochs, q, sum.total * inv, sum.mse * inv, metric,
                    best ? "  (best of this stage, saved)" : "");
        else if (!job->quiet) /* no validation: the training MSE picks the best */
            fprintf(stderr, "epoch %d/%d  q %d  loss %.4g  train mse %.4g%s\n", epoch + 1,
                    c->epochs, q, sum.total * inv, sum.mse * inv,
                    best ? "  (best of this stage, saved)" : "");
    }
    rc = remove_stale_stages(job->out, written_stages, kept_stages, err);
done:
    ld_stop_release();
    ld_bytes_free(&log);
    ld_ladid_trainer_free(&t);
    return rc;
}

/* ---- latdyn fit -------------------------------------------------------------- */

typedef struct fit_args {
    const char *input, *out, *resume, *preset;
    int context, epochs, batch, curriculum, max_query, heads, threads, quiet;
    float val_fraction, lr, sigma_y, dropout, pe_max_scale;
    uint64_t seed;
    int model_options; /* options that change the model (not allowed with --resume) */
} fit_args;

static void fit_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn fit FILE.h5 -o MODEL.safetensors [options]\n\n"
        "Trains the LaDID model (ladid.md) on the trajectories of FILE.h5 (datasets\n"
        "frames [n, L, C, S, S] in [0, 1], S a multiple of 16, and times [n, L];\n"
        "params, as `latdyn synth` writes, are not needed): blocks of CONTEXT + Q\n"
        "frames every Q frames, Q growing 1, 2, 4, ... up to L - CONTEXT every\n"
        "--curriculum epochs; AdamW, the learning rate times 0.98 after every epoch;\n"
        "validation nMSE (predicting frames CONTEXT..L-1 of held-out trajectories)\n"
        "after every epoch.\n\n"
        "options:\n"
        "  -o, --out FILE       the best-validation model of the latest curriculum\n"
        "                       stage (required); beside it STEM.stageK.safetensors\n"
        "                       (best of stage K), STEM.last.safetensors (latest epoch,\n"
        "                       for --resume) and STEM.log.csv (one row per epoch);\n"
        "                       Ctrl-C or SIGTERM stops at the next step, keeping them\n"
        "  --preset NAME        paper (ladid.md, default) or small (narrower, faster)\n"
        "  --context N          context frames (10)\n"
        "  --epochs E           epochs in all (preset: 60)\n"
        "  --batch B            blocks per step, at least 2 (16)\n"
        "  --curriculum E       epochs per curriculum stage (10)\n"
        "  --max-query Q        cap on the query frames per block (default L - CONTEXT)\n"
        "  --val-fraction F     share of the trajectories held out for validation (0.1;\n"
        "                       0: the training MSE picks the best model)\n"
        "  --lr RATE            AdamW learning rate at the first epoch, decayed x0.98\n"
        "                       per epoch (per preset: paper 3e-4, small 1e-3)\n"
        "  --sigma-y S          std of the frame likelihood (1e-3)\n"
        "  --dropout P          dropout in the dynamics MLP (0)\n"
        "  --heads H            attention heads, dividing the model width (1)\n"
        "  --pe-max-scale S     time encoding: angular frequencies pi 2^s, s = 0..S,\n"
        "                       time in units of the training span. Default: the\n"
        "                       paper's 8, capped one octave below what the training\n"
        "                       grid resolves (finer waves are seen only at the sampled\n"
        "                       phases and spoil predictions between samples); a value\n"
        "                       given above that limit is kept, with a warning\n"
        "  --seed S             random seed (1); same seed, same model\n"
        "  --threads T          OpenMP threads (default OMP_NUM_THREADS)\n"
        "  --resume CKPT        continue from STEM.last.safetensors (or a stage file) on\n"
        "                       the same FILE.h5 (checked) with its settings: only\n"
        "                       --epochs (which may grow), -o, --threads and --quiet\n"
        "                       may be given with it; the log (beside -o) starts with\n"
        "                       the run's rows up to the checkpoint's epoch\n"
        "  --quiet              no progress output or notes (warnings still print)\n");
}

static int parse_fit_args(int argc, char **argv, fit_args *a, ld_err *err)
{
    *a = (fit_args){.preset = "paper", .seed = 1, .context = -1, .epochs = -1, .batch = -1,
                    .curriculum = -1, .max_query = -1, .heads = -1, .val_fraction = -1,
                    .lr = -1, .sigma_y = -1, .dropout = -1, .pe_max_scale = -1};
    /* the options before --epochs change the model: not allowed with --resume */
    ld_option options[] = {
        LD_STRING("--preset", &a->preset),
        LD_INT("--context", &a->context, 1, 1000),
        LD_INT("--batch", &a->batch, 2, 4096),
        LD_INT("--curriculum", &a->curriculum, 1, 1000000),
        LD_INT("--max-query", &a->max_query, 1, 100000),
        LD_INT("--heads", &a->heads, 1, 64),
        LD_FLOAT("--val-fraction", &a->val_fraction, 0, 0.9),
        LD_FLOAT("--lr", &a->lr, 1e-8, 10),
        LD_FLOAT("--sigma-y", &a->sigma_y, 1e-6, 10),
        LD_FLOAT("--dropout", &a->dropout, 0, 0.95),
        LD_FLOAT("--pe-max-scale", &a->pe_max_scale, 0, 30),
        LD_U64("--seed", &a->seed),
        LD_INT("--epochs", &a->epochs, 1, 1000000),
        LD_OUT(&a->out),
        LD_INT("--threads", &a->threads, 1, 4096),
        LD_STRING("--resume", &a->resume),
        LD_FLAG("--quiet", &a->quiet),
    };
    for (ld_option *o = options; strcmp(o->name, "--epochs"); o++)
        o->given = &a->model_options;
    const char **const positional[] = {&a->input};
    const ld_command_line cl = {"fit", options, (int)(sizeof options / sizeof *options),
                                positional, 1, 1, "FILE.h5"};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    if (rc)
        return rc;
    if (!a->out)
        return ld_errf(err, "-o MODEL.safetensors is required");
    if (a->resume && a->model_options)
        return ld_errf(err, "--resume continues with the checkpoint's settings; only --epochs, "
                            "-o, --threads and --quiet may be given with it");
    return 0;
}

/* The time-encoding scale the training grid resolves: angular frequency
 * pi 2^s per training span is the Nyquist limit pi / gap of the mean sample
 * spacing at s = log2(span / gap). 0 when the data have no span. */
static double resolved_time_scale(const ld_ladid_config *cfg, const ld_sequences *train)
{
    double span = cfg->t_max - cfg->t_min, gap = 0;
    for (int i = 0; i < train->n; i++) {
        const double *t = train->times + (size_t)i * train->length;
        gap += (t[train->length - 1] - t[0]) / (train->length - 1) / train->n;
    }
    return span > 0 && gap > 0 ? log2(span / gap) : 0;
}

/* Caps the preset's time-encoding scale one octave below what the grid
 * resolves (measured in bench/RESULTS.md: the paper's 8 on a 0.1 s grid made
 * frames between samples 4x worse than those on it; a note, unless quiet),
 * or warns when the user's own choice is above the limit. */
static void fit_time_scale(ld_ladid_config *cfg, const ld_sequences *train, int given,
                           int quiet)
{
    double resolved = resolved_time_scale(cfg, train);
    double cap = resolved > 1 ? floor(resolved - 1) : 0;
    if (!given && cfg->pe_max_scale > cap) {
        if (!quiet)
            fprintf(stderr, "fit: time encoding up to --pe-max-scale %g (the preset's %g is "
                            "finer than the training grid resolves, %.2f)\n", cap,
                    cfg->pe_max_scale, resolved);
        cfg->pe_max_scale = (float)cap;
    } else if (given && cfg->pe_max_scale > resolved) { /* a warning: even when quiet */
        fprintf(stderr, "fit: warning: --pe-max-scale %g is above what the training grid "
                        "resolves (%.2f): predictions between samples will alias\n",
                cfg->pe_max_scale, resolved);
    }
}

/* The configuration: the preset (or the checkpoint being resumed) and the
 * options. */
static int make_config(const fit_args *a, const ld_sequences *data, ld_ladid_config *cfg,
                       ld_err *err)
{
    if (data->height != data->width)
        return ld_errf(err, "frames of %dx%d: the model needs square frames", data->width,
                       data->height);
    if (a->resume) {
        if (ld_ladid_read_config(a->resume, cfg, err))
            return -1;
        if (cfg->channels != data->channels || cfg->size != data->height)
            return ld_errf(err, "%s was trained on %dx%dx%d frames, %s has %dx%dx%d",
                           a->resume, cfg->channels, cfg->size, cfg->size, a->input,
                           data->channels, data->height, data->width);
    } else if (ld_ladid_preset(a->preset, data->channels, data->height, cfg, err)) {
        return -1;
    }
    if (a->context > 0)
        cfg->context = a->context;
    if (a->epochs > 0)
        cfg->epochs = a->epochs;
    if (a->batch > 0)
        cfg->batch = a->batch;
    if (a->curriculum > 0)
        cfg->curriculum_every = a->curriculum;
    if (a->max_query > 0)
        cfg->max_query = a->max_query;
    if (a->heads > 0)
        cfg->heads = a->heads;
    if (a->val_fraction >= 0)
        cfg->val_fraction = a->val_fraction;
    if (a->lr > 0)
        cfg->lr = a->lr;
    if (a->sigma_y > 0)
        cfg->sigma_y = a->sigma_y;
    if (a->dropout >= 0)
        cfg->dropout = a->dropout;
    if (a->pe_max_scale >= 0)
        cfg->pe_max_scale = a->pe_max_scale;
    if (data->length <= cfg->context)
        return ld_errf(err, "%s has trajectories of %d frames: more than the %d context frames "
                            "are needed", a->input, data->length, cfg->context);
    return ld_ladid_config_check(cfg, err);
}

int ld_cmd_fit(int argc, char **argv)
{
    fit_args a;
    ld_err err = {{0}};
    ld_sequences all = {0}, train = {0}, val = {0};
    ld_ladid_config cfg;
    ld_ladid_model m;
    int have_model = 0, status = 1;
    int rc = ld_cli_parsed(parse_fit_args(argc, argv, &a, &err), "fit", fit_usage, &err);
    if (rc >= 0)
        return rc;
    if (a.threads)
        omp_set_num_threads(a.threads);
    const char *const inputs[] = {a.input, NULL}; /* --resume may be out's own state */
    if (ld_fit_check_outputs(a.out, inputs, &err) || ld_sequences_read_h5(a.input, &all, &err) ||
        make_config(&a, &all, &cfg, &err))
        goto done;
    int n_val = (int)lround(cfg.val_fraction * all.n);
    if (cfg.val_fraction > 0 && n_val < 1)
        n_val = 1;
    if (n_val >= all.n) {
        ld_errf(&err, "%s holds %d trajectories: too few to hold %d out for validation (lower "
                      "--val-fraction)", a.input, all.n, n_val);
        goto done;
    }
    if (ld_ladid_split(&all, n_val, 0, &train, &val, &err))
        goto done;
    if (!a.resume) {
        ld_ladid_time_range(&train, &cfg.t_min, &cfg.t_max);
        fit_time_scale(&cfg, &train, a.pe_max_scale >= 0, a.quiet);
    }
    if (ld_ladid_create(&m, &cfg, &err))
        goto done;
    have_model = 1;
    ld_ladid_init_weights(&m, a.seed);
    ld_fit_job job = {.command = "fit", .out = a.out, .resume = a.resume, .seed = a.seed,
                      .quiet = a.quiet};
    ld_ladid_data_id_of(&all, a.input, train.n, val.n, &job.data_id);
    double start = ld_now_seconds();
    int run = ld_fit_run(&job, &m, &train, &val, &err);
    if (run) {
        if (run > 0) /* stopped by a signal: 128 + its number */
            status = run;
        goto done;
    }
    printf("fit: %d epochs on %d trajectories in %.1f s; model: %s\n", cfg.epochs, train.n,
           ld_now_seconds() - start, a.out);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn fit: %s\n", err.msg);
    if (have_model)
        ld_ladid_free(&m);
    ld_sequences_free(&all);
    ld_sequences_free(&train);
    ld_sequences_free(&val);
    return status;
}

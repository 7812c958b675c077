/* `latdyn finetune MODEL NEW.h5 --n-train k -o TUNED.safetensors`: adapts
 * a fitted LaDID model to an intervened system (ladid.md, "Transfer to
 * interventions") by training it further on k trajectories of NEW.h5 with
 * a fresh optimiser, validating on others fixed by the file alone (the
 * same for every k, so runs compare); --from-scratch trains the
 * same architecture from new weights on the same trajectories instead,
 * for the comparison the spec asks for. The training loop is fit's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "cli/cli.h"
#include "cli/fit.h"
#include "cli/options.h"
#include "cli/progress.h"

typedef struct finetune_args {
    const char *model, *input, *out, *resume;
    int n_train, n_val, epochs, curriculum, threads, quiet, from_scratch;
    float lr;
    uint64_t seed;
} finetune_args;

static void finetune_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn finetune MODEL.safetensors NEW.h5 --n-train K -o TUNED.safetensors\n"
        "       [options]\n\n"
        "Adapts a model from `latdyn fit` to an intervened system (changed constants,\n"
        "moved obstacle): trains it further on K trajectories of NEW.h5 (frames and\n"
        "times as for `latdyn fit`, the model's frame size; params not needed) with a\n"
        "fresh AdamW and the curriculum from Q = 1, validating on other trajectories\n"
        "of NEW.h5. The split by instance is fixed: the V validation trajectories are\n"
        "the same whatever K, so runs with different K or --from-scratch validate on\n"
        "the same trajectories; K can be at most the N - V others. Outputs as for\n"
        "`latdyn fit` (TUNED, STEM.stageK, STEM.last, STEM.log.csv); a run stopped by\n"
        "Ctrl-C or SIGTERM continues with the same command and --resume STEM.last.\n\n"
        "options:\n"
        "  --n-train K          trajectories to train on, 1..N-V (required)\n"
        "  -o, --out FILE       the fine-tuned model (required)\n"
        "  --n-val V            validation trajectories (default: half of the N in\n"
        "                       NEW.h5, rounded down, at most 64; 0: the training MSE\n"
        "                       picks the best model)\n"
        "  --epochs E           epochs in all (20)\n"
        "  --curriculum E       epochs per curriculum stage (5)\n"
        "  --lr RATE            learning rate (default: the model's)\n"
        "  --from-scratch       new weights instead of MODEL's (the baseline)\n"
        "  --seed S             random seed (1)\n"
        "  --threads T          OpenMP threads (default OMP_NUM_THREADS)\n"
        "  --resume CKPT        continue a stopped run from its STEM.last.safetensors (or\n"
        "                       a stage file), with the same MODEL, NEW.h5, --n-train\n"
        "                       and --n-val (checked): the command that started it, with\n"
        "                       --resume added (--epochs may grow)\n"
        "  --quiet              no progress output\n");
}

static int parse_finetune_args(int argc, char **argv, finetune_args *a, ld_err *err)
{
    *a = (finetune_args){.n_val = -1, .epochs = -1, .curriculum = -1, .lr = -1, .seed = 1};
    const ld_option options[] = {
        LD_INT("--curriculum", &a->curriculum, 1, 1000000),
        LD_FLOAT("--lr", &a->lr, 1e-8, 10),
        LD_U64("--seed", &a->seed),
        LD_FLAG("--from-scratch", &a->from_scratch),
        LD_INT("--epochs", &a->epochs, 1, 1000000),
        LD_OUT(&a->out),
        LD_INT("--n-train", &a->n_train, 1, 100000000),
        LD_INT("--n-val", &a->n_val, 0, 100000000),
        LD_INT("--threads", &a->threads, 1, 4096),
        LD_STRING("--resume", &a->resume),
        LD_FLAG("--quiet", &a->quiet),
    };
    const char **const positional[] = {&a->model, &a->input};
    const ld_command_line cl = {"finetune", options, (int)(sizeof options / sizeof *options),
                                positional, 2, 2, "MODEL.safetensors and NEW.h5"};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    if (rc)
        return rc;
    if (!a->n_train)
        return ld_errf(err, "--n-train K is required");
    if (!a->out)
        return ld_errf(err, "-o TUNED.safetensors is required");
    return 0;
}

int ld_cmd_finetune(int argc, char **argv)
{
    finetune_args a;
    ld_err err = {{0}};
    ld_sequences all = {0}, train = {0}, val = {0};
    ld_ladid_config cfg;
    ld_ladid_model m;
    int have_model = 0, status = 1;
    int rc = ld_cli_parsed(parse_finetune_args(argc, argv, &a, &err), "finetune",
                           finetune_usage, &err);
    if (rc >= 0)
        return rc;
    if (a.threads)
        omp_set_num_threads(a.threads);
    const char *const inputs[] = {a.model, a.input, NULL};
    /* resumed: the settings of the run stopped, the weights and state from
     * its checkpoint (MODEL names the base, as when it started) */
    if (ld_fit_check_outputs(a.out, inputs, &err) ||
        ld_ladid_read_config(a.resume ? a.resume : a.model, &cfg, &err) ||
        ld_sequences_read_h5(a.input, &all, &err))
        goto done;
    if (all.channels != cfg.channels || all.height != cfg.size || all.width != cfg.size) {
        ld_errf(&err, "%s has %dx%dx%d frames, the model %dx%dx%d", a.input, all.channels,
                all.height, all.width, cfg.channels, cfg.size, cfg.size);
        goto done;
    }
    if (all.length <= cfg.context) {
        ld_errf(&err, "%s has trajectories of %d frames: more than the %d context frames are "
                      "needed", a.input, all.length, cfg.context);
        goto done;
    }
    /* the validation trajectories depend on the file (and --n-val) only */
    int n_val = a.n_val >= 0 ? a.n_val : all.n / 2 < 64 ? all.n / 2 : 64;
    if (n_val >= all.n) {
        ld_errf(&err, "--n-val %d: %s holds %d trajectories, none would be left to train on",
                n_val, a.input, all.n);
        goto done;
    }
    if (a.n_train > all.n - n_val) {
        ld_errf(&err, "--n-train %d: %s holds %d trajectories and %d of them are held out for "
                      "validation (--n-val), leaving %d to train on", a.n_train, a.input,
                all.n, n_val, all.n - n_val);
        goto done;
    }
    if (ld_ladid_split(&all, n_val, a.n_train, &train, &val, &err))
        goto done;
    /* resumed with the command that started the run: its settings must be
     * the checkpoint's (--seed and --from-scratch only shaped its start) */
    if (a.resume && ((a.curriculum > 0 && a.curriculum != cfg.curriculum_every) ||
                     (a.lr > 0 && a.lr != cfg.lr))) {
        ld_errf(&err, "%s was trained with --curriculum %d --lr %g; resume it with those (or "
                      "without them)", a.resume, cfg.curriculum_every, (double)cfg.lr);
        goto done;
    }
    if (!a.resume) { /* a new run: the base model's settings, finetune's schedule */
        cfg.epochs = 20;
        cfg.curriculum_every = a.curriculum > 0 ? a.curriculum : 5;
        if (a.lr > 0)
            cfg.lr = a.lr;
    }
    if (a.epochs > 0)
        cfg.epochs = a.epochs;
    if (ld_ladid_create(&m, &cfg, &err))
        goto done;
    have_model = 1;
    ld_ladid_init_weights(&m, a.seed);
    if (!a.resume && !a.from_scratch && ld_ladid_load_weights(&m, a.model, &err))
        goto done;
    ld_fit_job job = {.command = "finetune", .out = a.out, .resume = a.resume, .seed = a.seed,
                      .quiet = a.quiet};
    ld_ladid_data_id_of(&all, a.input, train.n, val.n, &job.data_id);
    double start = ld_now_seconds();
    int run = ld_fit_run(&job, &m, &train, &val, &err);
    if (run) {
        if (run > 0) /* stopped by a signal: 128 + its number */
            status = run;
        goto done;
    }
    printf("finetune: %s on %d trajectories of %s, %d epochs in %.1f s; model: %s\n",
           a.from_scratch ? "trained from scratch" : "fine-tuned", train.n, a.input, cfg.epochs,
           ld_now_seconds() - start, a.out);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn finetune: %s\n", err.msg);
    if (have_model)
        ld_ladid_free(&m);
    ld_sequences_free(&all);
    ld_sequences_free(&train);
    ld_sequences_free(&val);
    return status;
}

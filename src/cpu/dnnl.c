/* Every oneDNN call of the project lives in this file (a port to another
 * oneDNN version touches nothing else).
 *
 * Shared plumbing first:
 *   - the CPU engine and stream, made once on first use (engine_ready);
 *   - DNNL_TRY, which turns a failed call into an ld_err message;
 *   - plain memory descriptors for the caller's NCHW / OIHW / flat buffers;
 *   - passes: one primitive plus the reorders between the caller's plain
 *     layouts and the (often blocked) layouts oneDNN picks for speed; the
 *     reordered copies and oneDNN's scratchpad live in caller-given scratch
 *     (the op's ld_scratch), and gradient outputs can be added into the
 *     caller's buffer by a reorder with a sum post-op; an input the caller
 *     already holds in the primitive's layout (a convolution's dz, written
 *     blocked by ld_cpu_conv_act_grad) goes in as it is;
 *   - a cache of built problems keyed by the problem's integers, so a
 *     repeated call does no creation work (only a lookup).
 * Then the kernel tables built on it: convolution and transposed convolution
 * (ops/conv.h), max pooling (ops/pool.h), the standalone activations
 * (ops/act.h) and layer norm (ops/norm.h; the family's table is in
 * cpu/norm.c, beside the OpenMP batch norm). The activation and layer-norm
 * kernels get no scratch from their ops: their primitives work on the
 * caller's plain layouts (no copies) and leave the scratchpad to oneDNN.
 * Resize and batch norm are OpenMP loops, faster than oneDNN 2.6 on NCHW
 * (cpu/resize.c, cpu/norm.c).
 *
 * Kernels are called from one thread at a time (the thread running the ops);
 * oneDNN parallelises inside each primitive with OpenMP. */
#include <dnnl.h>
#include <dnnl_debug.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "engine/arena.h"
#include "engine/error.h"
#include "ops/act.h"
#include "ops/conv.h"
#include "ops/pool.h"

/* ---- engine, stream, errors ------------------------------------------------ */

static dnnl_engine_t cpu_engine;
static dnnl_stream_t cpu_stream;

/* Runs a oneDNN call; on failure writes its name and status into `err`, sets
 * `rc` to -1 and jumps to `done` (the calling function's cleanup). */
#define DNNL_TRY(call)                                                                     \
    do {                                                                                   \
        dnnl_status_t status_ = (call);                                                    \
        if (status_ != dnnl_success) {                                                     \
            rc = ld_errf(err, "oneDNN %.*s failed (%s)", (int)strcspn(#call, "("), #call,  \
                         dnnl_status2str(status_));                                        \
            goto done;                                                                     \
        }                                                                                  \
    } while (0)

/* Makes the engine and stream on first use (kept for the process). */
static int engine_ready(ld_err *err)
{
    int rc = 0;
    if (cpu_stream)
        return 0;
    if (!cpu_engine)
        DNNL_TRY(dnnl_engine_create(&cpu_engine, dnnl_cpu, 0));
    DNNL_TRY(dnnl_stream_create(&cpu_stream, cpu_engine, dnnl_stream_default_flags));
done:
    return rc;
}

/* A dense f32 memory descriptor: `tag` names the caller's layout
 * (dnnl_nchw, dnnl_oihw, dnnl_a, ...) or dnnl_format_tag_any (oneDNN picks). */
static int md_init(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                   dnnl_format_tag_t tag, ld_err *err)
{
    int rc = 0;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
done:
    return rc;
}

/* A reorder from one layout to another; with `add` it adds into the
 * destination (sum post-op) instead of overwriting it. */
static int reorder_create(dnnl_primitive_t *prim, const dnnl_memory_desc_t *from,
                          const dnnl_memory_desc_t *to, int add, ld_err *err)
{
    int rc = 0;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    DNNL_TRY(dnnl_primitive_attr_create(&attr));
    if (add) {
        DNNL_TRY(dnnl_post_ops_create(&post_ops));
        DNNL_TRY(dnnl_post_ops_append_sum(post_ops, 1.0f));
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    }
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, cpu_engine, to, cpu_engine, attr));
    DNNL_TRY(dnnl_primitive_create(prim, pd));
done:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* ---- passes: a primitive with reorders to and from the caller's layouts --- */

#define PASS_MAX_OPERANDS 9 /* layer norm backward */

typedef enum {
    OPERAND_IN,      /* read */
    OPERAND_OUT,     /* written (overwrites) */
    OPERAND_OUT_ADD, /* written or added into the caller's buffer; may be unwanted (NULL) */
} operand_role;

/* Where a pass's oneDNN scratchpad lives. */
typedef enum {
    SCRATCHPAD_CALLER, /* in the caller's scratch, after the copies */
    SCRATCHPAD_ONEDNN, /* oneDNN's own (kernels whose ops give no scratch) */
} scratchpad_owner;

/* What a kernel gives for one operand: the execute argument and the
 * caller's layout (NULL: the primitive's own, e.g. a pooling workspace). */
typedef struct operand_spec {
    int arg;
    operand_role role;
    const dnnl_memory_desc_t *user_md;
} operand_spec;

typedef struct operand {
    int arg;
    operand_role role;
    int same_layout;              /* the primitive reads / writes the caller's buffer */
    dnnl_memory_desc_t user_md;   /* the caller's layout */
    dnnl_memory_desc_t prim_md;   /* the primitive's layout */
    dnnl_primitive_t to_prim;     /* inputs in another layout: caller -> primitive */
    dnnl_primitive_t to_user[2];  /* outputs through the copy: [0] overwrite, [1] add */
    size_t copy_offset;           /* the primitive-layout copy, in scratch */
} operand;

typedef struct pass {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    operand op[PASS_MAX_OPERANDS];
    int n_op;
    dnnl_memory_desc_t scratchpad_md;
    size_t scratchpad_offset;
    size_t scratch_bytes; /* copies + oneDNN scratchpad */
} pass;

static void pass_destroy(pass *ps)
{
    for (int i = 0; i < ps->n_op; i++) {
        operand *o = &ps->op[i];
        if (o->to_prim)
            dnnl_primitive_destroy(o->to_prim);
        for (int add = 0; add < 2; add++)
            if (o->to_user[add])
                dnnl_primitive_destroy(o->to_user[add]);
    }
    if (ps->prim)
        dnnl_primitive_destroy(ps->prim);
    if (ps->pd)
        dnnl_primitive_desc_destroy(ps->pd);
    memset(ps, 0, sizeof *ps);
}

/* Whether a 4-D md lays its bytes out as channels-last (NHWC) would: NCHW
 * with one channel, or channel-blocked with the block holding every
 * channel (nChw16c with 16 channels). */
static int laid_out_as_nhwc(const dnnl_memory_desc_t *md)
{
    if (md->ndims != 4)
        return 0;
    dnnl_dim_t c = md->dims[1];
    dnnl_format_tag_t tag = c == 1 ? dnnl_nchw : c == 8 ? dnnl_nChw8c : c == 16 ? dnnl_nChw16c
                                                                                : dnnl_format_tag_undef;
    dnnl_memory_desc_t same;
    return tag != dnnl_format_tag_undef &&
           dnnl_memory_desc_init_by_tag(&same, 4, md->dims, md->data_type, tag) ==
               dnnl_success &&
           dnnl_memory_desc_equal(md, &same);
}

/* The caller's md for operand layout `user` when the primitive's is `prim`:
 * where the primitive works channels-last and the caller's bytes already
 * are (laid_out_as_nhwc), the caller's md says NHWC, so that no copy is
 * made (or, for bfloat16 reads, the copy only converts). */
static dnnl_memory_desc_t user_md_for(const dnnl_memory_desc_t *user,
                                      const dnnl_memory_desc_t *prim)
{
    dnnl_memory_desc_t nhwc;
    if (laid_out_as_nhwc(user) &&
        dnnl_memory_desc_init_by_tag(&nhwc, 4, prim->dims, prim->data_type, dnnl_nhwc) ==
            dnnl_success &&
        dnnl_memory_desc_equal(prim, &nhwc) &&
        dnnl_memory_desc_init_by_tag(&nhwc, 4, user->dims, user->data_type, dnnl_nhwc) ==
            dnnl_success)
        return nhwc;
    return *user;
}

/* Fills operand o of a pass whose primitive descriptor is `pd`: its layouts,
 * the reorders it needs and (when it goes through a copy) the copy's offset
 * in scratch, advancing *offset. */
static int operand_build(operand *o, const operand_spec *spec, const_dnnl_primitive_desc_t pd,
                         size_t *offset, ld_err *err)
{
    o->arg = spec->arg;
    o->role = spec->role;
    o->prim_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, o->arg);
    o->user_md = spec->user_md ? user_md_for(spec->user_md, &o->prim_md) : o->prim_md;
    o->same_layout = dnnl_memory_desc_equal(&o->user_md, &o->prim_md);
    if (o->role == OPERAND_IN && !o->same_layout &&
        reorder_create(&o->to_prim, &o->user_md, &o->prim_md, 0, err))
        return -1;
    if (o->role != OPERAND_IN && !o->same_layout &&
        reorder_create(&o->to_user[0], &o->prim_md, &o->user_md, 0, err))
        return -1;
    if (o->role == OPERAND_OUT_ADD &&
        reorder_create(&o->to_user[1], &o->prim_md, &o->user_md, 1, err))
        return -1;
    if (!o->same_layout || o->role == OPERAND_OUT_ADD) {
        o->copy_offset = *offset;
        *offset += ld_align_up(dnnl_memory_desc_get_size(&o->prim_md));
    }
    return 0;
}

/* Builds the primitive for op descriptor `desc` (memory descriptors in it
 * may be format_tag_any), its reorders and its scratch layout. post_ops and
 * hint (the forward primitive descriptor of a backward pass) may be NULL.
 * With SCRATCHPAD_ONEDNN, scratch_bytes covers the copies only. */
static int pass_build(pass *ps, const_dnnl_op_desc_t desc, const_dnnl_post_ops_t post_ops,
                      const_dnnl_primitive_desc_t hint, const operand_spec *spec, int n,
                      scratchpad_owner scratchpad, ld_err *err)
{
    int rc = 0;
    dnnl_primitive_attr_t attr = NULL;
    memset(ps, 0, sizeof *ps);
    ps->n_op = n;
    DNNL_TRY(dnnl_primitive_attr_create(&attr));
    if (scratchpad == SCRATCHPAD_CALLER)
        DNNL_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (post_ops)
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    DNNL_TRY(dnnl_primitive_desc_create(&ps->pd, desc, attr, cpu_engine, hint));
    DNNL_TRY(dnnl_primitive_create(&ps->prim, ps->pd));
    size_t offset = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = operand_build(&ps->op[i], &spec[i], ps->pd, &offset, err);
    if (rc)
        goto done;
    ps->scratchpad_md = *dnnl_primitive_desc_query_md(ps->pd, dnnl_query_scratchpad_md, 0);
    ps->scratchpad_offset = offset;
    ps->scratch_bytes = offset + dnnl_memory_desc_get_size(&ps->scratchpad_md);
done:
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (rc)
        pass_destroy(ps);
    return rc;
}

static int execute(dnnl_primitive_t prim, int n_args, const dnnl_exec_arg_t *args, ld_err *err)
{
    int rc = 0;
    DNNL_TRY(dnnl_primitive_execute(prim, cpu_stream, n_args, args));
done:
    return rc;
}

static int run_reorder(dnnl_primitive_t prim, dnnl_memory_t from, dnnl_memory_t to, ld_err *err)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return execute(prim, 2, args, err);
}

/* Input operand i of a pass from the caller's layout at `from` into the
 * primitive's at `to`. */
static int operand_convert(const pass *ps, int i, const void *from, void *to, ld_err *err)
{
    int rc = 0;
    const operand *o = &ps->op[i];
    dnnl_memory_t user = NULL, prim = NULL;
    DNNL_TRY(dnnl_memory_create(&user, &o->user_md, cpu_engine, (void *)from));
    DNNL_TRY(dnnl_memory_create(&prim, &o->prim_md, cpu_engine, to));
    if (!(rc = run_reorder(o->to_prim, user, prim, err)))
        DNNL_TRY(dnnl_stream_wait(cpu_stream));
done:
    if (user)
        dnnl_memory_destroy(user);
    if (prim)
        dnnl_memory_destroy(prim);
    return rc;
}

/* Runs a built pass on the caller's buffers: ptr[i] for operand i (NULL for
 * an unwanted OPERAND_OUT_ADD output), add[i] = 1 to add an OPERAND_OUT_ADD
 * output into ptr[i] (add may be NULL: overwrite everything), ready[i] = 1
 * when input ptr[i] is already in the primitive's layout (ready may be
 * NULL: every input in the caller's). `scratch` holds ps->scratch_bytes
 * (NULL when that is 0). */
static int pass_run_ready(const pass *ps, void *const *ptr, const int *add, const int *ready,
                          void *scratch, ld_err *err)
{
    int rc = 0;
    dnnl_memory_t user[PASS_MAX_OPERANDS] = {0}, copy[PASS_MAX_OPERANDS] = {0};
    dnnl_memory_t scratchpad = NULL;
    dnnl_exec_arg_t args[PASS_MAX_OPERANDS + 1];
    int adds[PASS_MAX_OPERANDS];
    char *base = scratch;
    int n_args = 0;
    if (!scratch && ps->scratch_bytes)
        return ld_errf(err, "oneDNN pass run without its %zu bytes of scratch",
                       ps->scratch_bytes);
    for (int i = 0; i < ps->n_op; i++) {
        const operand *o = &ps->op[i];
        adds[i] = o->role == OPERAND_OUT_ADD && add && add[i];
        if (o->role == OPERAND_IN) { /* read in the primitive's layout, converted if need be */
            void *in = ptr[i];
            if (!o->same_layout && !(ready && ready[i])) {
                in = base + o->copy_offset;
                if ((rc = operand_convert(ps, i, ptr[i], in, err)))
                    goto done;
            }
            DNNL_TRY(dnnl_memory_create(&user[i], &o->prim_md, cpu_engine, in));
            args[n_args++] = (dnnl_exec_arg_t){o->arg, user[i]};
            continue;
        }
        if (ptr[i])
            DNNL_TRY(dnnl_memory_create(&user[i], &o->user_md, cpu_engine, ptr[i]));
        if (!o->same_layout || adds[i] || !ptr[i])
            DNNL_TRY(dnnl_memory_create(&copy[i], &o->prim_md, cpu_engine,
                                        base + o->copy_offset));
        args[n_args++] = (dnnl_exec_arg_t){o->arg, copy[i] ? copy[i] : user[i]};
    }
    if (dnnl_memory_desc_get_size(&ps->scratchpad_md) > 0) {
        DNNL_TRY(dnnl_memory_create(&scratchpad, &ps->scratchpad_md, cpu_engine,
                                    base + ps->scratchpad_offset));
        args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratchpad};
    }
    if ((rc = execute(ps->prim, n_args, args, err)))
        goto done;
    for (int i = 0; i < ps->n_op && !rc; i++)
        if (ps->op[i].role != OPERAND_IN && copy[i] && user[i])
            rc = run_reorder(ps->op[i].to_user[adds[i]], copy[i], user[i], err);
    if (!rc)
        DNNL_TRY(dnnl_stream_wait(cpu_stream));
done:
    for (int i = 0; i < ps->n_op; i++) {
        if (user[i])
            dnnl_memory_destroy(user[i]);
        if (copy[i])
            dnnl_memory_destroy(copy[i]);
    }
    if (scratchpad)
        dnnl_memory_destroy(scratchpad);
    return rc;
}

static int pass_run(const pass *ps, void *const *ptr, const int *add, void *scratch,
                    ld_err *err)
{
    return pass_run_ready(ps, ptr, add, NULL, scratch, err);
}

/* ---- cache of built problems ------------------------------------------------ */

#define CACHE_KEY_INTS 16

/* Problems of one kind, each with what was built for it (never freed: a
 * program meets a handful of shapes). Keys are zero-padded int arrays. */
typedef struct problem_cache {
    struct cache_item {
        int key[CACHE_KEY_INTS];
        void *value;
    } *items;
    size_t n, cap;
} problem_cache;

static void *cache_find(const problem_cache *c, const int *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!memcmp(c->items[i].key, key, sizeof c->items[i].key))
            return c->items[i].value;
    return NULL;
}

static int cache_add(problem_cache *c, const int *key, void *value, ld_err *err)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct cache_item *items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return ld_errf(err, "out of memory growing the oneDNN primitive cache");
        c->items = items;
        c->cap = cap;
    }
    memcpy(c->items[c->n].key, key, sizeof c->items[c->n].key);
    c->items[c->n].value = value;
    c->n++;
    return 0;
}

/* A problem's passes, built on first use; [0] is the forward, which the
 * backward passes take as their hint, so it is built with the entry. A
 * family may use the slots after its pass enum for helper passes. */
#define ENTRY_MAX_PASSES 5

typedef struct problem_entry {
    pass part[ENTRY_MAX_PASSES];
    int built[ENTRY_MAX_PASSES];
} problem_entry;

/* Builds pass `which` of the entry for `problem` (a kernel family's builder). */
typedef int (*pass_builder)(problem_entry *e, const void *problem, int which, ld_err *err);

static void entry_free(problem_entry *e)
{
    for (int i = ENTRY_MAX_PASSES; i-- > 0;)
        pass_destroy(&e->part[i]);
    free(e);
}

/* The entry for a problem with pass `which` built: a cache lookup, building
 * what is missing (the entry and its forward first). NULL with err on
 * failure. */
static const problem_entry *cached_entry(problem_cache *c, const int *key, const void *problem,
                                         int which, pass_builder build, ld_err *err)
{
    if (engine_ready(err))
        return NULL;
    problem_entry *e = cache_find(c, key);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            ld_errf(err, "out of memory building a oneDNN primitive");
            return NULL;
        }
        if (build(e, problem, 0, err) || cache_add(c, key, e, err)) {
            entry_free(e);
            return NULL;
        }
        e->built[0] = 1;
    }
    if (!e->built[which]) {
        if (build(e, problem, which, err))
            return NULL;
        e->built[which] = 1;
    }
    return e;
}

/* Pass `which` of the problem's entry (see cached_entry). */
static const pass *cached_pass(problem_cache *c, const int *key, const void *problem, int which,
                               pass_builder build, ld_err *err)
{
    const problem_entry *e = cached_entry(c, key, problem, which, build, err);
    return e ? &e->part[which] : NULL;
}

/* The bits of a float, for cache keys. */
static int float_bits(float f)
{
    int bits;
    _Static_assert(sizeof bits == sizeof f, "a float key needs int-sized floats");
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* A size as two key ints (high and low 31 bits). */
static void size_key(int *key, size_t n)
{
    key[0] = (int)(n >> 31);
    key[1] = (int)(n & INT_MAX);
}

/* ---- eltwise passes (fused activations of the convolutions, standalone
 * activations) ------------------------------------------------------------- */

/* oneDNN's algorithm parameter of an activation (the negative slope). */
static float act_alpha(ld_activation act)
{
    return act.kind == LD_ACT_LEAKY_RELU ? act.slope : 0.0f;
}

/* y = act(x) on buffers of layout md. */
static int eltwise_forward_build(pass *ps, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *md,
                                 float alpha, scratchpad_owner scratchpad, ld_err *err)
{
    int rc = 0;
    dnnl_eltwise_desc_t d;
    DNNL_TRY(dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training, alg, md, alpha, 0.0f));
    operand_spec spec[2] = {{DNNL_ARG_SRC, OPERAND_IN, md}, {DNNL_ARG_DST, OPERAND_OUT, md}};
    rc = pass_build(ps, &d, NULL, NULL, spec, 2, scratchpad, err);
done:
    return rc;
}

/* dx = dy * act'(y) for a *_use_dst_for_bwd algorithm (the mask read from
 * the output y); operands y, dy, dx. hint: a forward eltwise primitive
 * descriptor. */
static int eltwise_backward_build(pass *ps, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *md,
                                  float alpha, const_dnnl_primitive_desc_t hint,
                                  scratchpad_owner scratchpad, ld_err *err)
{
    int rc = 0;
    dnnl_eltwise_desc_t d;
    DNNL_TRY(dnnl_eltwise_backward_desc_init(&d, alg, md, md, alpha, 0.0f));
    operand_spec spec[3] = {{DNNL_ARG_DST, OPERAND_IN, md},
                            {DNNL_ARG_DIFF_DST, OPERAND_IN, md},
                            {DNNL_ARG_DIFF_SRC, OPERAND_OUT, md}};
    rc = pass_build(ps, &d, NULL, hint, spec, 3, scratchpad, err);
done:
    return rc;
}

/* ---- convolution and transposed convolution ---------------------------------- */

static problem_cache conv_cache;

/* By default oneDNN picks Winograd where its heuristics expect it to be
 * faster and the direct kernels otherwise; conv_prefers_winograd asks for
 * Winograd where it measured faster than that choice. */
#define CONV_ALGORITHM dnnl_convolution_auto

/* The caller's layouts (x, w, b, y), the any-layout versions oneDNN
 * chooses from for x, w, y where a pass writes them (float32) and where it
 * reads them (x_in, w_in, y_in: bfloat16 for a bf16 problem, else the
 * same), and the geometry. The operands' reorders into the primitive's
 * layouts then also round to bfloat16. */
typedef struct conv_mds {
    dnnl_memory_desc_t x, w, b, y, x_any, w_any, y_any, x_in, w_in, y_in;
    dnnl_dims_t strides, pad;
} conv_mds;

/* oneDNN's tag for a tensor layout (ld_tensor.block: 0 or 1 NCHW, 8, 16). */
static dnnl_format_tag_t block_tag(int block)
{
    return block == 16 ? dnnl_nChw16c : block == 8 ? dnnl_nChw8c : dnnl_nchw;
}

/* *in = the any-layout *any, in bfloat16 when bf16 is set. */
static int read_md_init(dnnl_memory_desc_t *in, const dnnl_memory_desc_t *any, int bf16,
                        ld_err *err)
{
    int rc = 0;
    *in = *any;
    if (bf16)
        DNNL_TRY(dnnl_memory_desc_init_by_tag(in, any->ndims, any->dims, dnnl_bf16,
                                              dnnl_format_tag_any));
done:
    return rc;
}

static int conv_mds_init(const ld_conv_problem *p, conv_mds *m, ld_err *err)
{
    dnnl_dims_t x = {p->n, p->cin, p->h, p->w}, y = {p->n, p->cout, p->oh, p->ow};
    dnnl_dims_t w = {p->cout, p->cin, p->k, p->k}, b = {p->cout};
    /* a transposed convolution's oneDNN weights are [cout, cin, k, k];
     * PyTorch stores them [cin, cout, k, k], i.e. iohw */
    dnnl_format_tag_t w_tag = p->transposed ? dnnl_iohw : dnnl_oihw;
    m->strides[0] = m->strides[1] = p->stride;
    m->pad[0] = m->pad[1] = p->pad;
    return md_init(&m->x, 4, x, block_tag(p->x_block), err) ||
           md_init(&m->y, 4, y, block_tag(p->y_block), err) ||
           md_init(&m->w, 4, w, w_tag, err) || md_init(&m->b, 1, b, dnnl_a, err) ||
           md_init(&m->x_any, 4, x, dnnl_format_tag_any, err) ||
           md_init(&m->y_any, 4, y, dnnl_format_tag_any, err) ||
           md_init(&m->w_any, 4, w, dnnl_format_tag_any, err) ||
           read_md_init(&m->x_in, &m->x_any, p->bf16, err) ||
           read_md_init(&m->w_in, &m->w_any, p->bf16, err) ||
           read_md_init(&m->y_in, &m->y_any, p->bf16, err);
}

/* A convolution's passes. The epilogue applies what the forward primitive
 * cannot fuse, in place on y: for a transposed convolution the bias and the
 * activation (oneDNN's deconvolution adds the bias and applies post-ops in
 * slow reference loops: at 64 channels the bias costs 2.5x and a ReLU
 * post-op 25x the deconvolution itself), as a binary add with the
 * activation as its post-op, or an eltwise; for a Winograd forward the
 * activation (its kernel fuses only a plain ReLU), as an eltwise. */
enum { CONV_FORWARD, CONV_BACKWARD_DATA, CONV_BACKWARD_WEIGHTS, CONV_EPILOGUE };
_Static_assert(CONV_EPILOGUE < ENTRY_MAX_PASSES, "a convolution's passes fit in an entry");

/* Whether pass `which` asks oneDNN for Winograd (its F(4x4, 3x3) kernels:
 * AVX-512 only; where they are missing the pass falls back to
 * CONV_ALGORITHM). Winograd's products run over the pass's input channels
 * (x's for the forward, dz's for the data gradient), and measured on the
 * paper-preset step (batch 16-64, 2 threads, Xeon with AVX-512,
 * bench/RESULTS.md) it wins from 32 of them: 0.6-0.8 of the direct
 * kernels' time; with 16 it loses (1.2-1.7x slower at 32x32). The weight
 * gradient wins with 32 channels on both sides (0.55-0.75), and from 4 on
 * 32x32 and larger images (0.7-0.85). Winograd's float32 error is ~1e-6 of
 * the largest value against ~3e-7 for the direct forward, and smaller than
 * the direct weight gradient's (7e-7 against 3e-6). */
static int conv_prefers_winograd(const ld_conv_problem *p, int which)
{
    if (p->transposed || p->k != 3 || p->stride != 1 || p->bf16) /* float32 kernels only */
        return 0;
    switch (which) {
    case CONV_FORWARD:
        return p->cin >= 32;
    case CONV_BACKWARD_DATA:
        return p->cout >= 32;
    default:
        return (p->cin >= 32 && p->cout >= 32) ||
               (p->cin >= 4 && p->cout >= 4 && p->h >= 32 && p->w >= 32);
    }
}

/* The activation as post-ops (NULL without activation). */
static int conv_post_ops(const ld_conv_problem *p, dnnl_post_ops_t *post_ops, ld_err *err)
{
    int rc = 0;
    *post_ops = NULL;
    if (p->act.kind == LD_ACT_NONE)
        return 0;
    DNNL_TRY(dnnl_post_ops_create(post_ops));
    DNNL_TRY(dnnl_post_ops_append_eltwise(*post_ops, 1.0f, dnnl_eltwise_relu, act_alpha(p->act),
                                          0.0f));
done:
    if (rc && *post_ops) {
        dnnl_post_ops_destroy(*post_ops);
        *post_ops = NULL;
    }
    return rc;
}

/* Whether the epilogue adds the bias (operands y, b, y) or only applies the
 * activation (y, y). */
static int conv_epilogue_adds_bias(const ld_conv_problem *p)
{
    return p->transposed && p->has_bias;
}

static int conv_build_epilogue(problem_entry *e, const ld_conv_problem *p, const conv_mds *m,
                               const_dnnl_post_ops_t post_ops, ld_err *err)
{
    int rc = 0;
    if (conv_epilogue_adds_bias(p)) {
        dnnl_binary_desc_t d;
        dnnl_memory_desc_t b4;
        dnnl_dims_t b4_dims = {1, p->cout, 1, 1};
        if (md_init(&b4, 4, b4_dims, dnnl_nchw, err))
            return -1;
        DNNL_TRY(dnnl_binary_desc_init(&d, dnnl_binary_add, &m->y, &b4, &m->y));
        operand_spec spec[3] = {{DNNL_ARG_SRC_0, OPERAND_IN, &m->y},
                                {DNNL_ARG_SRC_1, OPERAND_IN, &b4},
                                {DNNL_ARG_DST, OPERAND_OUT, &m->y}};
        rc = pass_build(&e->part[CONV_EPILOGUE], &d, post_ops, NULL, spec, 3,
                        SCRATCHPAD_CALLER, err);
    } else {
        rc = eltwise_forward_build(&e->part[CONV_EPILOGUE], dnnl_eltwise_relu, &m->y,
                                   act_alpha(p->act), SCRATCHPAD_CALLER, err);
    }
done:
    return rc;
}

/* The forward primitive of a (not transposed) convolution with algorithm
 * `alg`, post_ops fused (may be NULL). */
static int conv_build_forward_pass(problem_entry *e, const ld_conv_problem *p,
                                   const conv_mds *m, dnnl_alg_kind_t alg,
                                   const_dnnl_post_ops_t post_ops, ld_err *err)
{
    int rc = 0;
    dnnl_convolution_desc_t d;
    DNNL_TRY(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, alg, &m->x_in,
                                                &m->w_in, p->has_bias ? &m->b : NULL,
                                                &m->y_any, m->strides, m->pad, m->pad));
    operand_spec spec[4] = {{DNNL_ARG_SRC, OPERAND_IN, &m->x},
                            {DNNL_ARG_WEIGHTS, OPERAND_IN, &m->w},
                            {DNNL_ARG_DST, OPERAND_OUT, &m->y},
                            {DNNL_ARG_BIAS, OPERAND_IN, &m->b}};
    rc = pass_build(&e->part[CONV_FORWARD], &d, post_ops, NULL, spec, 3 + p->has_bias,
                    SCRATCHPAD_CALLER, err);
done:
    return rc;
}

/* A transposed convolution: the primitive, then the bias and activation in
 * the epilogue. A convolution: Winograd where conv_prefers_winograd asks
 * for it and oneDNN has it, the activation in the epilogue; else
 * CONV_ALGORITHM with the activation fused. */
static int conv_build_forward(problem_entry *e, const ld_conv_problem *p, const conv_mds *m,
                              ld_err *err)
{
    int rc = 0;
    dnnl_post_ops_t post_ops = NULL;
    if (conv_post_ops(p, &post_ops, err))
        return -1;
    if (p->transposed) {
        dnnl_deconvolution_desc_t d;
        operand_spec spec[3] = {{DNNL_ARG_SRC, OPERAND_IN, &m->x},
                                {DNNL_ARG_WEIGHTS, OPERAND_IN, &m->w},
                                {DNNL_ARG_DST, OPERAND_OUT, &m->y}};
        DNNL_TRY(dnnl_deconvolution_forward_desc_init(
            &d, dnnl_forward_training, dnnl_deconvolution_direct, &m->x_in, &m->w_in, NULL,
            &m->y_any, m->strides, m->pad, m->pad));
        rc = pass_build(&e->part[CONV_FORWARD], &d, NULL, NULL, spec, 3, SCRATCHPAD_CALLER,
                        err);
        if (!rc && (p->has_bias || post_ops))
            rc = conv_build_epilogue(e, p, m, post_ops, err);
    } else if (conv_prefers_winograd(p, CONV_FORWARD) &&
               !conv_build_forward_pass(e, p, m, dnnl_convolution_winograd, NULL, err)) {
        if (post_ops)
            rc = conv_build_epilogue(e, p, m, post_ops, err);
    } else {
        rc = conv_build_forward_pass(e, p, m, CONV_ALGORITHM, post_ops, err);
    }
done:
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    return rc;
}

static int conv_build_backward_data(problem_entry *e, const ld_conv_problem *p,
                                    const conv_mds *m, dnnl_alg_kind_t alg, ld_err *err)
{
    int rc = 0;
    dnnl_convolution_desc_t d;
    if (p->transposed)
        DNNL_TRY(dnnl_deconvolution_backward_data_desc_init(
            &d, dnnl_deconvolution_direct, &m->x_any, &m->w_in, &m->y_in, m->strides, m->pad,
            m->pad));
    else
        DNNL_TRY(dnnl_convolution_backward_data_desc_init(
            &d, alg, &m->x_any, &m->w_in, &m->y_in, m->strides, m->pad, m->pad));
    operand_spec spec[3] = {{DNNL_ARG_DIFF_DST, OPERAND_IN, &m->y},
                            {DNNL_ARG_WEIGHTS, OPERAND_IN, &m->w},
                            {DNNL_ARG_DIFF_SRC, OPERAND_OUT_ADD, &m->x}};
    rc = pass_build(&e->part[CONV_BACKWARD_DATA], &d, NULL, e->part[CONV_FORWARD].pd, spec, 3,
                    SCRATCHPAD_CALLER, err);
done:
    return rc;
}

static int conv_build_backward_weights(problem_entry *e, const ld_conv_problem *p,
                                       const conv_mds *m, dnnl_alg_kind_t alg, ld_err *err)
{
    int rc = 0;
    dnnl_convolution_desc_t d;
    const dnnl_memory_desc_t *bias = p->has_bias ? &m->b : NULL;
    if (p->transposed)
        DNNL_TRY(dnnl_deconvolution_backward_weights_desc_init(
            &d, dnnl_deconvolution_direct, &m->x_in, &m->w_any, bias, &m->y_in, m->strides,
            m->pad, m->pad));
    else
        DNNL_TRY(dnnl_convolution_backward_weights_desc_init(
            &d, alg, &m->x_in, &m->w_any, bias, &m->y_in, m->strides, m->pad, m->pad));
    operand_spec spec[4] = {{DNNL_ARG_SRC, OPERAND_IN, &m->x},
                            {DNNL_ARG_DIFF_DST, OPERAND_IN, &m->y},
                            {DNNL_ARG_DIFF_WEIGHTS, OPERAND_OUT_ADD, &m->w},
                            {DNNL_ARG_DIFF_BIAS, OPERAND_OUT_ADD, &m->b}};
    rc = pass_build(&e->part[CONV_BACKWARD_WEIGHTS], &d, NULL, e->part[CONV_FORWARD].pd, spec,
                    3 + p->has_bias, SCRATCHPAD_CALLER, err);
done:
    return rc;
}

typedef int (*conv_backward_builder)(problem_entry *e, const ld_conv_problem *p,
                                     const conv_mds *m, dnnl_alg_kind_t alg, ld_err *err);

/* A backward pass with Winograd where conv_prefers_winograd asks for it;
 * else with the direct kernels when the forward is Winograd by that
 * preference (a forward with 32 input channels and 16 outputs: its data
 * gradient loses with Winograd), or the algorithm oneDNN resolved for the
 * forward; the default when that has no backward kernel. */
static int conv_build_backward(problem_entry *e, const ld_conv_problem *p, const conv_mds *m,
                               int which, conv_backward_builder build, ld_err *err)
{
    const_dnnl_op_desc_t desc = NULL;
    dnnl_alg_kind_t alg = CONV_ALGORITHM;
    if (conv_prefers_winograd(p, which))
        alg = dnnl_convolution_winograd;
    else if (conv_prefers_winograd(p, CONV_FORWARD))
        alg = dnnl_convolution_direct;
    else if (!p->transposed &&
             dnnl_primitive_desc_query(e->part[CONV_FORWARD].pd, dnnl_query_convolution_d, 0,
                                       &desc) == dnnl_success &&
             desc)
        alg = ((const dnnl_convolution_desc_t *)desc)->alg_kind;
    if (alg != CONV_ALGORITHM && !build(e, p, m, alg, err))
        return 0;
    return build(e, p, m, CONV_ALGORITHM, err);
}

static int conv_build(problem_entry *e, const void *problem, int which, ld_err *err)
{
    const ld_conv_problem *p = problem;
    conv_mds m;
    if (conv_mds_init(p, &m, err))
        return -1;
    switch (which) {
    case CONV_FORWARD:
        return conv_build_forward(e, p, &m, err);
    case CONV_BACKWARD_DATA:
        return conv_build_backward(e, p, &m, which, conv_build_backward_data, err);
    case CONV_BACKWARD_WEIGHTS:
        return conv_build_backward(e, p, &m, which, conv_build_backward_weights, err);
    }
    return ld_errf(err, "convolution: unknown pass %d", which);
}

/* The problem's entry with the passes of `pass` built (the backward: both
 * gradient passes). */
static const problem_entry *conv_entry(const ld_conv_problem *p, ld_conv_pass pass,
                                       ld_err *err)
{
    int key[CACHE_KEY_INTS] = {p->transposed, p->n, p->cin, p->h, p->w, p->cout, p->k,
                               p->stride, p->pad, p->has_bias, (int)p->act.kind,
                               float_bits(act_alpha(p->act)), p->x_block, p->y_block, p->bf16};
    if (pass == LD_CONV_FORWARD)
        return cached_entry(&conv_cache, key, p, CONV_FORWARD, conv_build, err);
    if (!cached_entry(&conv_cache, key, p, CONV_BACKWARD_DATA, conv_build, err))
        return NULL;
    return cached_entry(&conv_cache, key, p, CONV_BACKWARD_WEIGHTS, conv_build, err);
}

/* Layout md of dz as a block of ld_cpu_conv_act_grad (1: NCHW, 8 or 16:
 * nChw8c, nChw16c), or 0 when it is another layout. */
static int conv_dz_block(const ld_conv_problem *p, const dnnl_memory_desc_t *md)
{
    static const int blocks[] = {1, 8, 16};
    dnnl_dims_t dims = {p->n, p->cout, p->oh, p->ow};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        dnnl_memory_desc_t want;
        if (dnnl_memory_desc_init_by_tag(&want, 4, dims, dnnl_f32, block_tag(blocks[i])) ==
                dnnl_success &&
            dnnl_memory_desc_equal(md, &want))
            return blocks[i];
    }
    return 0;
}

/* Where the backward keeps dz, ahead of the passes' scratch: written by
 * the activation's gradient in the passes' layout (block > 0) or in y's;
 * in y's and read by both passes in one other layout (bfloat16 ones, say),
 * it is converted once into that layout (`converted` bytes after it)
 * instead of once per pass. */
typedef struct conv_dz_plan {
    int block;
    size_t bytes, converted;
} conv_dz_plan;

static conv_dz_plan conv_dz_layout(const ld_conv_problem *p, const problem_entry *e)
{
    /* DIFF_DST is operand 0 of the data pass, 1 of the weights pass */
    const operand *data = &e->part[CONV_BACKWARD_DATA].op[0];
    size_t prim_bytes = ld_align_up(dnnl_memory_desc_get_size(&data->prim_md));
    size_t y_bytes = ld_align_up((size_t)p->n * p->cout * p->oh * p->ow * sizeof(float));
    int shared =
        dnnl_memory_desc_equal(&data->prim_md, &e->part[CONV_BACKWARD_WEIGHTS].op[1].prim_md);
    conv_dz_plan plan = {.block = shared ? conv_dz_block(p, &data->prim_md) : 0};
    plan.bytes = plan.block ? prim_bytes : y_bytes;
    plan.converted = shared && !plan.block && data->to_prim ? prim_bytes : 0;
    return plan;
}

static int conv_scratch_bytes(const ld_conv_problem *p, ld_conv_pass which, size_t *bytes,
                              ld_err *err)
{
    const problem_entry *e = conv_entry(p, which, err);
    if (!e)
        return -1;
    const pass *part = e->part;
    if (which == LD_CONV_FORWARD) {
        *bytes = part[CONV_FORWARD].scratch_bytes;
        if (part[CONV_EPILOGUE].scratch_bytes > *bytes)
            *bytes = part[CONV_EPILOGUE].scratch_bytes;
    } else {
        size_t data = part[CONV_BACKWARD_DATA].scratch_bytes;
        size_t weights = part[CONV_BACKWARD_WEIGHTS].scratch_bytes;
        conv_dz_plan dz = conv_dz_layout(p, e);
        *bytes = dz.bytes + dz.converted + (data > weights ? data : weights);
    }
    return 0;
}

static int conv_forward(const ld_conv_problem *p, float *y, const float *x, const float *w,
                        const float *b, void *scratch, ld_err *err)
{
    const problem_entry *e = conv_entry(p, LD_CONV_FORWARD, err);
    void *ptr[4] = {(void *)x, (void *)w, y, (void *)b};
    if (!e || pass_run(&e->part[CONV_FORWARD], ptr, NULL, scratch, err))
        return -1;
    /* the epilogue's operands: y, b, y when it adds the bias; y, y else */
    void *epilogue_ptr[3] = {y, conv_epilogue_adds_bias(p) ? (void *)b : y, y};
    if (e->part[CONV_EPILOGUE].prim)
        return pass_run(&e->part[CONV_EPILOGUE], epilogue_ptr, NULL, scratch, err);
    return 0;
}

/* dz once, in the layout both passes read where it is one of
 * ld_cpu_conv_act_grad's (no reorders, no separate activation pass), or
 * converted once into the layout both read (conv_dz_layout), then the data
 * and weight gradients from it. */
static int conv_backward(const ld_conv_problem *p, const ld_conv_grads *g, void *scratch,
                         ld_err *err)
{
    const problem_entry *e = conv_entry(p, LD_CONV_BACKWARD, err);
    if (!e)
        return -1;
    conv_dz_plan plan = conv_dz_layout(p, e);
    float *dz = scratch;
    void *read = dz, *rest = (char *)scratch + plan.bytes + plan.converted;
    ld_cpu_conv_act_grad(p, plan.block ? plan.block : p->y_block > 1 ? p->y_block : 1, dz,
                         g->dy, g->y);
    if (plan.converted) {
        read = (char *)scratch + plan.bytes;
        if (operand_convert(&e->part[CONV_BACKWARD_DATA], 0, dz, read, err))
            return -1;
    }
    int ready = plan.block || plan.converted;
    if (g->dx) {
        void *ptr[3] = {read, (void *)g->w, g->dx};
        int adds[3] = {0, 0, g->dx_add}, readies[3] = {ready, 0, 0};
        if (pass_run_ready(&e->part[CONV_BACKWARD_DATA], ptr, adds, readies, rest, err))
            return -1;
    }
    if (g->dw || (p->has_bias && g->db)) {
        void *ptr[4] = {(void *)g->x, read, g->dw, g->db};
        int adds[4] = {0, 0, g->dw_add, g->db_add}, readies[4] = {0, ready, 0, 0};
        return pass_run_ready(&e->part[CONV_BACKWARD_WEIGHTS], ptr, adds, readies, rest, err);
    }
    return 0;
}

/* Whether the instruction set oneDNN runs on includes `isa`'s. The ISA
 * values are bit sets, and a larger value need not include a smaller one
 * (AVX2-VNNI's is larger than AVX-512's). */
static int isa_includes(dnnl_cpu_isa_t isa)
{
    return ((unsigned)dnnl_get_effective_cpu_isa() & (unsigned)isa) == (unsigned)isa;
}

/* The channel block of the layout oneDNN's convolution and pooling kernels
 * work in: nChw16c with AVX-512, nChw8c below. */
int ld_dnnl_conv_preferred_block(void) { return isa_includes(dnnl_cpu_isa_avx512_core) ? 16 : 8; }

/* Whether oneDNN runs bfloat16 convolutions on AMX tiles. With AVX512-BF16
 * alone (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 on an AMX machine) the paper
 * step took 1.5x its float32 time (bench/RESULTS.md), so only AMX counts. */
int ld_dnnl_has_bf16(void) { return isa_includes(dnnl_cpu_isa_avx512_core_amx); }

/* cpu/conv.c's table (the backend's) calls these; it also has the relayout loop */
const struct ld_conv_kernels ld_dnnl_conv_kernels = {conv_scratch_bytes, conv_forward,
                                                     conv_backward, NULL,
                                                     ld_dnnl_conv_preferred_block,
                                                     ld_dnnl_has_bf16};

/* ---- max pooling ------------------------------------------------------------- */

static problem_cache pool_cache;

/* Operand order of the passes (the workspace's index is used below). */
enum { POOL_FWD_SRC, POOL_FWD_DST, POOL_FWD_WORKSPACE };

/* The pooling primitive works in the channel-blocked layout whatever the
 * caller's: oneDNN 2.6 pools NCHW with a plain loop (simple_nchw, 2.6 ms for
 * 16 x 16 x 32 x 32 on an AVX2 core pair) but blocked layouts with its JIT
 * kernels; the reorders to and from it cost less than the difference. */

static int pool_build(problem_entry *e, const void *problem, int which, ld_err *err)
{
    const ld_pool_problem *p = problem;
    int rc = 0;
    dnnl_pooling_desc_t d;
    dnnl_memory_desc_t x, y, x_blocked, y_blocked;
    dnnl_dims_t x_dims = {p->n, p->c, p->h, p->w}, y_dims = {p->n, p->c, p->oh, p->ow};
    dnnl_dims_t strides = {p->stride, p->stride}, kernel = {p->k, p->k}, pad = {0, 0};
    dnnl_format_tag_t blocked = block_tag(ld_dnnl_conv_preferred_block());
    if (md_init(&x, 4, x_dims, block_tag(p->block), err) ||
        md_init(&y, 4, y_dims, block_tag(p->block), err) ||
        md_init(&x_blocked, 4, x_dims, blocked, err) || md_init(&y_blocked, 4, y_dims, blocked, err))
        return -1;
    if (which == LD_POOL_FORWARD) {
        DNNL_TRY(dnnl_pooling_forward_desc_init(&d, dnnl_forward_training, dnnl_pooling_max,
                                                &x_blocked, &y_blocked, strides, kernel, pad,
                                                pad));
        operand_spec spec[3] = {[POOL_FWD_SRC] = {DNNL_ARG_SRC, OPERAND_IN, &x},
                                [POOL_FWD_DST] = {DNNL_ARG_DST, OPERAND_OUT, &y},
                                [POOL_FWD_WORKSPACE] = {DNNL_ARG_WORKSPACE, OPERAND_OUT, NULL}};
        rc = pass_build(&e->part[LD_POOL_FORWARD], &d, NULL, NULL, spec, 3, SCRATCHPAD_CALLER,
                        err);
    } else {
        DNNL_TRY(dnnl_pooling_backward_desc_init(&d, dnnl_pooling_max, &x_blocked, &y_blocked,
                                                 strides, kernel, pad, pad));
        operand_spec spec[3] = {{DNNL_ARG_DIFF_DST, OPERAND_IN, &y},
                                {DNNL_ARG_WORKSPACE, OPERAND_IN, NULL},
                                {DNNL_ARG_DIFF_SRC, OPERAND_OUT_ADD, &x}};
        rc = pass_build(&e->part[LD_POOL_BACKWARD], &d, NULL, e->part[LD_POOL_FORWARD].pd,
                        spec, 3, SCRATCHPAD_CALLER, err);
    }
done:
    return rc;
}

static const pass *pool_pass(const ld_pool_problem *p, ld_pool_pass which, ld_err *err)
{
    int key[CACHE_KEY_INTS] = {p->n, p->c, p->h, p->w, p->k, p->stride, p->block};
    return cached_pass(&pool_cache, key, p, which, pool_build, err);
}

static int maxpool_workspace_bytes(const ld_pool_problem *p, size_t *bytes, ld_err *err)
{
    const pass *ps = pool_pass(p, LD_POOL_FORWARD, err);
    if (!ps)
        return -1;
    *bytes = dnnl_memory_desc_get_size(&ps->op[POOL_FWD_WORKSPACE].prim_md);
    return 0;
}

static int maxpool_scratch_bytes(const ld_pool_problem *p, ld_pool_pass which, size_t *bytes,
                                 ld_err *err)
{
    const pass *ps = pool_pass(p, which, err);
    if (!ps)
        return -1;
    *bytes = ps->scratch_bytes;
    return 0;
}

static int maxpool_forward(const ld_pool_problem *p, float *y, const float *x, void *workspace,
                           void *scratch, ld_err *err)
{
    const pass *ps = pool_pass(p, LD_POOL_FORWARD, err);
    void *ptr[3] = {[POOL_FWD_SRC] = (void *)x, [POOL_FWD_DST] = y,
                    [POOL_FWD_WORKSPACE] = workspace};
    return ps ? pass_run(ps, ptr, NULL, scratch, err) : -1;
}

static int maxpool_backward(const ld_pool_problem *p, float *dx, int add, const float *dy,
                            const void *workspace, void *scratch, ld_err *err)
{
    const pass *ps = pool_pass(p, LD_POOL_BACKWARD, err);
    void *ptr[3] = {(void *)dy, (void *)workspace, dx};
    int adds[3] = {0, 0, add};
    return ps ? pass_run(ps, ptr, adds, scratch, err) : -1;
}

const struct ld_pool_kernels ld_cpu_pool_kernels = {
    maxpool_workspace_bytes, maxpool_scratch_bytes, maxpool_forward, maxpool_backward,
};

/* ---- standalone activations: eltwise on n flat values ------------------------- */

static problem_cache act_cache;

enum { ACT_FORWARD, ACT_BACKWARD };

typedef struct act_problem {
    size_t n;
    ld_activation act;
} act_problem;

/* The use-dst-for-backward algorithms: the backward needs only the output. */
static dnnl_alg_kind_t act_algorithm(ld_act_kind kind)
{
    switch (kind) {
    case LD_ACT_SIGMOID:
        return dnnl_eltwise_logistic_use_dst_for_bwd;
    case LD_ACT_TANH:
        return dnnl_eltwise_tanh_use_dst_for_bwd;
    default:
        return dnnl_eltwise_relu_use_dst_for_bwd;
    }
}

static int act_build(problem_entry *e, const void *problem, int which, ld_err *err)
{
    const act_problem *p = problem;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {(dnnl_dim_t)p->n};
    dnnl_alg_kind_t alg = act_algorithm(p->act.kind);
    float alpha = act_alpha(p->act);
    if (md_init(&md, 1, dims, dnnl_a, err))
        return -1;
    if (which == ACT_FORWARD)
        return eltwise_forward_build(&e->part[ACT_FORWARD], alg, &md, alpha, SCRATCHPAD_ONEDNN,
                                     err);
    return eltwise_backward_build(&e->part[ACT_BACKWARD], alg, &md, alpha,
                                  e->part[ACT_FORWARD].pd, SCRATCHPAD_ONEDNN, err);
}

static const pass *act_pass(size_t n, ld_activation act, int which, ld_err *err)
{
    act_problem p = {n, act};
    int key[CACHE_KEY_INTS] = {(int)act.kind, float_bits(act_alpha(act))};
    size_key(&key[2], n);
    return cached_pass(&act_cache, key, &p, which, act_build, err);
}

/* The kernels of ops/act.h report failure without a message: err is
 * dropped. */
static int act_forward(float *y, const float *x, size_t n, ld_activation act)
{
    ld_err err;
    const pass *ps = act_pass(n, act, ACT_FORWARD, &err);
    void *ptr[2] = {(void *)x, y};
    return ps ? pass_run(ps, ptr, NULL, NULL, &err) : -1;
}

static int act_backward(float *dx, const float *dy, const float *y, size_t n,
                        ld_activation act)
{
    ld_err err;
    const pass *ps = act_pass(n, act, ACT_BACKWARD, &err);
    void *ptr[3] = {(void *)y, (void *)dy, dx};
    return ps ? pass_run(ps, ptr, NULL, NULL, &err) : -1;
}

const struct ld_act_kernels ld_cpu_act_kernels = {act_forward, act_backward};

/* ---- layer norm: x [rows, d], each row normalised --------------------------- */

static problem_cache layernorm_cache;

/* The forward is a training one (writing the statistics) or an inference
 * one, by the problem's key; only training problems have a backward. */
enum { LAYERNORM_FORWARD, LAYERNORM_BACKWARD };

typedef struct layernorm_problem {
    size_t rows;
    int d;
    float eps;
    int training;
} layernorm_problem;

/* gamma and beta (scale and shift). The backward primitive never reads the
 * shift, but oneDNN 2.6 refuses to run it without a SHIFT argument: it is
 * given gamma's buffer. */
#define LAYERNORM_FLAGS (dnnl_use_scale | dnnl_use_shift)

/* Every layout is given (plain, no format_tag_any), so the operands take
 * the primitive's own layouts (NULL): the caller's buffers, no copies. */
static int layernorm_build(problem_entry *e, const void *problem, int which, ld_err *err)
{
    const layernorm_problem *p = problem;
    int rc = 0;
    dnnl_layer_normalization_desc_t d;
    dnnl_memory_desc_t data, stat;
    dnnl_dims_t dims = {(dnnl_dim_t)p->rows, p->d};
    if (md_init(&data, 2, dims, dnnl_ab, err) || md_init(&stat, 1, dims, dnnl_a, err))
        return -1;
    if (which == LAYERNORM_FORWARD) {
        DNNL_TRY(dnnl_layer_normalization_forward_desc_init(
            &d, p->training ? dnnl_forward_training : dnnl_forward_inference, &data, &stat,
            p->eps, LAYERNORM_FLAGS));
        operand_spec spec[6] = {
            {DNNL_ARG_SRC, OPERAND_IN, NULL},   {DNNL_ARG_SCALE, OPERAND_IN, NULL},
            {DNNL_ARG_SHIFT, OPERAND_IN, NULL}, {DNNL_ARG_DST, OPERAND_OUT, NULL},
            {DNNL_ARG_MEAN, OPERAND_OUT, NULL}, {DNNL_ARG_VARIANCE, OPERAND_OUT, NULL}};
        rc = pass_build(&e->part[LAYERNORM_FORWARD], &d, NULL, NULL, spec, p->training ? 6 : 4,
                        SCRATCHPAD_ONEDNN, err);
    } else {
        DNNL_TRY(dnnl_layer_normalization_backward_desc_init(&d, dnnl_backward, &data, &data,
                                                             &stat, p->eps, LAYERNORM_FLAGS));
        operand_spec spec[9] = {
            {DNNL_ARG_SRC, OPERAND_IN, NULL},         {DNNL_ARG_MEAN, OPERAND_IN, NULL},
            {DNNL_ARG_VARIANCE, OPERAND_IN, NULL},    {DNNL_ARG_DIFF_DST, OPERAND_IN, NULL},
            {DNNL_ARG_SCALE, OPERAND_IN, NULL},       {DNNL_ARG_SHIFT, OPERAND_IN, NULL},
            {DNNL_ARG_DIFF_SRC, OPERAND_OUT, NULL},   {DNNL_ARG_DIFF_SCALE, OPERAND_OUT, NULL},
            {DNNL_ARG_DIFF_SHIFT, OPERAND_OUT, NULL}};
        rc = pass_build(&e->part[LAYERNORM_BACKWARD], &d, NULL, e->part[LAYERNORM_FORWARD].pd,
                        spec, 9, SCRATCHPAD_ONEDNN, err);
    }
done:
    return rc;
}

static const pass *layernorm_pass(size_t rows, int d, float eps, int training, int which,
                                  ld_err *err)
{
    layernorm_problem p = {rows, d, eps, training};
    int key[CACHE_KEY_INTS] = {d, float_bits(eps), training};
    size_key(&key[3], rows);
    return cached_pass(&layernorm_cache, key, &p, which, layernorm_build, err);
}

/* Like the activations', these kernels (ops/norm.h) drop err. */
int ld_dnnl_layernorm_forward(float *y, float *mean, float *var, const float *x,
                              const float *gamma, const float *beta, size_t rows, int d,
                              float eps)
{
    ld_err err;
    const pass *ps = layernorm_pass(rows, d, eps, mean != NULL, LAYERNORM_FORWARD, &err);
    void *ptr[6] = {(void *)x, (void *)gamma, (void *)beta, y, mean, var};
    return ps ? pass_run(ps, ptr, NULL, NULL, &err) : -1;
}

int ld_dnnl_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *gamma, const float *mean,
                               const float *var, size_t rows, int d, float eps)
{
    ld_err err;
    const pass *ps = layernorm_pass(rows, d, eps, 1, LAYERNORM_BACKWARD, &err);
    void *ptr[9] = {(void *)x,     (void *)mean, (void *)var, (void *)dy, (void *)gamma,
                    (void *)gamma, dx,           dgamma,      dbeta};
    return ps ? pass_run(ps, ptr, NULL, NULL, &err) : -1;
}

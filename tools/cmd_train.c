/* mets train: METS pre-training of the ECG encoder on PTB-XL (train folds) against the frozen language
 * model's embeddings of the translated reports; after every epoch the model is exported and scored
 * zero-shot on the validation fold, and the best epoch is kept as the output model.
 *
 * The MIT-BIH and VFDB streams of the training split (train/streams.h) are added by default, with reports
 * generated from their annotations: PTB-XL has no ventricular tachycardia or fibrillation, so without them
 * the VT and VF prompts would be guesses. CinC 2017 is added only with --cinc, because it is also a
 * zero-shot evaluation set. The epoch is still chosen on PTB-XL's validation fold. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dataset.h"
#include "mfile.h"
#include "ptbxl.h"
#include "streams.h"
#include "textcache.h"
#include "trainer.h"
#include "zeroshot.h"

static const char usage_text[] =
    "usage: mets train [options]\n"
    "  -d, --data DIR        data folder (default: $METS_DATA, else the repository's .cache/data)\n"
    "  -o, --out FILE        the trained model, best epoch on the validation fold (default models/mets-ecg.mets)\n"
    "  -c, --checkpoint FILE checkpoint written after every epoch (default OUT.ckpt); --resume continues it\n"
    "      --resume          continue from the checkpoint when it exists\n"
    "      --train-folds F   PTB-XL folds to train on (default 1-8)\n"
    "      --val-fold F      fold to select the epoch on (default 9)\n"
    "  -e, --epochs N        (default 20)   -b, --batch N (default 128)   --lr X (default 2e-3)\n"
    "  -j, --threads N       data-parallel threads (default 2)   --seed N (default 1)\n"
    "      --limit N         use at most N training records (quick runs)\n"
    "      --no-streams      leave out the MIT-BIH and VFDB windows\n"
    "      --stream-records L MIT-BIH/VFDB records to train on, e.g. mitdb/101,vfdb/418, or all (default:\n"
    "                        the training split of train/streams.h)\n"
    "      --exclude-records L records to leave out of them (default none)\n"
    "      --stream-hop S    seconds between stream windows (default 5)\n"
    "      --cinc            add CinC 2017 records A00001-A01500 (--cinc-range LO-HI to choose others)\n"
    "      --noise L         noise records mixed into windows, e.g. nstdb/ma,nstdb/bw (default: those two\n"
    "                        when in the data folder; none to leave it out)\n"
    "      --noise-p P       share of windows given noise (default 0.25), at SNR -6..24 dB\n"
    "      --noise-drown DB  below this SNR a noisy window is paired with the noise report instead of its\n"
    "                        own (default 9)\n"
    "      --rare-repeat N   windows whose report names VT, VF, flutter or SVT drawn N times an epoch\n"
    "                        (default 4)\n"
    "      --keep-epochs     also keep every epoch's model as OUT.eN (to choose one by the alarms)\n"
    "      --labels FILE     label prompts for validation (default conf/labels.yaml)\n"
    "  -m, --text-model FILE the converted language model\n";

typedef struct train_ctx {
    const char *out, *labels_path, *command;
    char tmp[4200];
    const mets_ptbxl_set *val;
    const mets_labels *labels;
    const mets_textenc *te;
    double best, start;
    int best_epoch, keep_epochs;
} train_ctx;

typedef struct args {
    const char *data, *out, *checkpoint, *labels, *text_model, *train_folds, *val_fold;
    const char *stream_records, *exclude_records, *cinc_range, *noise;
    double stream_hop, noise_p, noise_drown;
    int limit, resume, streams, cinc, rare_repeat, keep_epochs;
    mets_train_opts o;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},       {"out", required_argument, NULL, 'o'},
        {"checkpoint", required_argument, NULL, 'c'}, {"resume", no_argument, NULL, 'R'},
        {"train-folds", required_argument, NULL, 'F'}, {"val-fold", required_argument, NULL, 'V'},
        {"epochs", required_argument, NULL, 'e'},     {"batch", required_argument, NULL, 'b'},
        {"lr", required_argument, NULL, 'L'},         {"threads", required_argument, NULL, 'j'},
        {"seed", required_argument, NULL, 'S'},       {"limit", required_argument, NULL, 'n'},
        {"labels", required_argument, NULL, 'l'},     {"text-model", required_argument, NULL, 'm'},
        {"no-streams", no_argument, NULL, 'T'},       {"stream-records", required_argument, NULL, 'r'},
        {"exclude-records", required_argument, NULL, 'x'}, {"stream-hop", required_argument, NULL, 'H'},
        {"cinc", no_argument, NULL, 'C'},             {"cinc-range", required_argument, NULL, 'G'},
        {"noise", required_argument, NULL, 'N'},      {"noise-p", required_argument, NULL, 'P'},
        {"noise-drown", required_argument, NULL, 'D'},
        {"rare-repeat", required_argument, NULL, 'W'}, {"keep-epochs", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    *a = (args){.out = "models/mets-ecg.mets", .labels = "conf/labels.yaml", .train_folds = "1-8", .val_fold = "9",
                .stream_records = METS_STREAMS_TRAIN_RECORDS, .exclude_records = "none", .cinc_range = "1-1500",
                .noise = "nstdb/ma,nstdb/bw", .noise_p = 0.25, .noise_drown = 9, .rare_repeat = 4, .stream_hop = 5, .streams = 1, .o = mets_train_default_opts()};
    int c;
    while ((c = getopt_long(argc, argv, "d:o:c:e:b:j:l:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->out = optarg; break;
        case 'c': a->checkpoint = optarg; break;
        case 'R': a->resume = 1; break;
        case 'F': a->train_folds = optarg; break;
        case 'V': a->val_fold = optarg; break;
        case 'e': a->o.epochs = atoi(optarg); break;
        case 'b': a->o.batch = atoi(optarg); break;
        case 'L': a->o.lr = strtof(optarg, NULL); break;
        case 'j': a->o.threads = atoi(optarg); break;
        case 'S': a->o.seed = strtoull(optarg, NULL, 10); break;
        case 'n': a->limit = atoi(optarg); break;
        case 'l': a->labels = optarg; break;
        case 'm': a->text_model = optarg; break;
        case 'T': a->streams = 0; break;
        case 'r': a->stream_records = optarg; break;
        case 'x': a->exclude_records = optarg; break;
        case 'H': a->stream_hop = strtod(optarg, NULL); break;
        case 'C': a->cinc = 1; break;
        case 'G': a->cinc_range = optarg; break;
        case 'N': a->noise = optarg; break;
        case 'P': a->noise_p = strtod(optarg, NULL); break;
        case 'D': a->noise_drown = strtod(optarg, NULL); break;
        case 'W': a->rare_repeat = atoi(optarg); break;
        case 'K': a->keep_epochs = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    return -1;
}

/* Exports the epoch's model to a temporary file and scores it zero-shot on the validation fold. */
static int validate(train_ctx *c, int epoch, double loss, mets_ecgnet *net, double *super, double *rhythm)
{
    mets_err err;
    mets_mfile_writer *w = mets_mfile_writer_new();
    int rc = w ? mets_ecgnet_export(net, w, METS_DT_F16) : METS_ENOMEM;
    rc = rc ?: mets_mfile_writer_set_str(w, "train.command", c->command, strlen(c->command));
    rc = rc ?: mets_mfile_writer_set_i64(w, "train.epoch", epoch + 1);
    rc = rc ?: mets_mfile_writer_set_f64(w, "train.loss", loss);
    rc = rc ?: mets_mfile_writer_write(w, c->tmp, &err);
    mets_mfile_writer_free(w);
    mets_ecgenc *enc = rc ? NULL : mets_ecgenc_open(c->tmp, &err);
    mets_promptbank *pb = enc ? mets_promptbank_new(c->labels, c->te, enc, &err) : NULL;
    const mets_train_data *v = &c->val->data;
    float *prob = pb ? malloc((size_t)v->n * c->labels->nlabels * sizeof *prob) : NULL;
    int missing;
    if (!prob || mets_zeroshot_scores(enc, pb, v, METS_LEADS_ALL, NULL, prob, &err)) {
        fprintf(stderr, "mets train: validation: %s\n", err.msg);
        rc = 1;
    } else {
        *super = mets_zeroshot_macro_auc(c->labels, "superclass", prob, v->n, c->val->super, mets_ptbxl_super_names,
                                         METS_PTBXL_SUPER, NULL, &missing);
        *rhythm = mets_zeroshot_macro_auc(c->labels, "rhythm", prob, v->n, c->val->rhythm, mets_ptbxl_rhythm_names,
                                          METS_PTBXL_RHYTHM, NULL, &missing);
    }
    free(prob);
    mets_promptbank_free(pb);
    mets_ecgenc_free(enc);
    return rc;
}

static int on_epoch(void *p, int epoch, double loss, mets_ecgnet *net)
{
    train_ctx *c = p;
    double super = 0, rhythm = 0;
    if (validate(c, epoch, loss, net, &super, &rhythm))
        return 1;
    double score = (super + rhythm) / 2;
    int best = score > c->best;
    fprintf(stderr, "epoch %d: loss %.4f, validation zero-shot macro AUC superclass %.3f rhythm %.3f%s (%.0f s)\n",
            epoch + 1, loss, super, rhythm, best ? "  best so far" : "", difftime(time(NULL), (time_t)c->start));
    if (c->keep_epochs) { /* every epoch's model, for a selection by the alarms (docs/alarms.md) */
        char path[4300];
        snprintf(path, sizeof path, "%s.e%d", c->out, epoch + 1);
        if (link(c->tmp, path) != 0 && (unlink(path), link(c->tmp, path) != 0)) {
            perror(path);
            return 1;
        }
    }
    if (best) {
        c->best = score, c->best_epoch = epoch + 1;
        if (rename(c->tmp, c->out) != 0) {
            perror(c->out);
            return 1;
        }
    }
    return 0;
}

/* Appends a loaded stream set to the training windows. The PTB-XL labels (ecg_id, super, rhythm) keep
 * describing the first windows only: training reads the windows and texts alone. */
static int append(mets_ptbxl_set *train, mets_streams_set *s, const char *what, const char *dir, mets_err *err)
{
    fprintf(stderr, "train: + %d %s windows (%d records, %d distinct reports, %d listed records not in %s)\n",
            s->data.n, what, s->nrecords, s->data.ntexts, s->missing, dir);
    int rc = mets_dataset_append(&train->data, &train->texts, &s->data, s->texts, err);
    mets_streams_free(s);
    return rc;
}

static int add_streams(const args *a, const char *dir, mets_ptbxl_set *train, mets_err *err)
{
    mets_ecgenc_arch arch = mets_ecgenc_default_arch();
    mets_streams_opts so = mets_streams_default_opts(arch.rate_hz, arch.samples);
    so.hop_s = a->stream_hop;
    mets_streams_set s = {0};
    char **names = NULL, cinc_dir[4096];
    int n = 0, first, last, rc = 0;
    if (a->streams) {
        rc = mets_streams_list(dir, a->stream_records, a->exclude_records, &names, &n, err);
        rc = rc ?: mets_streams_load(dir, names, n, &so, &s, err);
        rc = rc ?: append(train, &s, "MIT-BIH/VFDB", dir, err);
        mets_streams_list_free(names, n);
    }
    if (!rc && a->cinc) {
        if (mets_cinc_parse_range(a->cinc_range, &first, &last))
            return mets_err_set(err, METS_EINVAL, "--cinc-range %s: expected LO-HI, e.g. 1-700", a->cinc_range);
        snprintf(cinc_dir, sizeof cinc_dir, "%s/cinc2017/training2017", dir);
        rc = mets_cinc_load(cinc_dir, NULL, first, last, &so, &s, err);
        rc = rc ?: append(train, &s, "CinC 2017", cinc_dir, err);
    }
    return rc;
}

/* Reports that name a rare rhythm: an epoch draws their windows rare_repeat times. */
static const char *const rare_rhythms[] = {"ventricular tachycardia", "ventricular fibrillation", "ventricular flutter",
                                           "atrial flutter", "supraventricular tachycardia"};

static int *rare_repeats(const mets_ptbxl_set *train, int times, int *nrare)
{
    const mets_train_data *d = &train->data;
    int *rep = malloc((size_t)d->n * sizeof *rep);
    *nrare = 0;
    for (int i = 0; rep && i < d->n; i++) {
        rep[i] = 1;
        for (size_t k = 0; k < sizeof rare_rhythms / sizeof *rare_rhythms; k++)
            if (strstr(train->texts[d->text[i]], rare_rhythms[k])) {
                rep[i] = times, ++*nrare;
                break;
            }
    }
    return rep;
}

/* The noise records of --noise that are in the data folder, each channel one row of nz->sig, and the noise
 * report interned as a training text. Records not in the folder are left out with a word. */
static int load_noise(const args *a, const char *dir, mets_ptbxl_set *train, mets_train_noise *nz, float **owned,
                      mets_err *err)
{
    *nz = (mets_train_noise){.p = a->noise_p, .snr_lo_db = -6, .snr_hi_db = 24, .drown_db = a->noise_drown,
                             .text = -1};
    *owned = NULL;
    if (!strcmp(a->noise, "none") || a->noise_p <= 0)
        return 0;
    char **names;
    int n, rc = mets_streams_list(dir, a->noise, "none", &names, &n, err);
    mets_ecgenc_arch arch = mets_ecgenc_default_arch();
    for (int i = 0; i < n && !rc; i++) {
        char path[4200];
        float *sig;
        int ns, len;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((rc = mets_dataset_read_noise(path, arch.rate_hz, &sig, &ns, &len, err)) == METS_ENOTFOUND) {
            fprintf(stderr, "train: noise record %s not in %s: left out\n", names[i], dir);
            rc = 0;
            continue;
        }
        int keep = nz->n ? (len < nz->n ? len : nz->n) : len; /* every row as long as the shortest */
        float *grown = rc ? NULL : malloc((size_t)(nz->nsig + ns) * keep * sizeof *grown);
        if (!rc && !grown)
            rc = mets_err_set(err, METS_ENOMEM, "out of memory for noise records");
        for (int r = 0; grown && r < nz->nsig; r++)
            memcpy(grown + (size_t)r * keep, *owned + (size_t)r * nz->n, (size_t)keep * sizeof *grown);
        for (int r = 0; grown && r < ns; r++)
            memcpy(grown + (size_t)(nz->nsig + r) * keep, sig + (size_t)r * len, (size_t)keep * sizeof *grown);
        free(sig);
        if (grown) {
            free(*owned);
            *owned = grown, nz->sig = grown, nz->nsig += ns, nz->n = keep;
        }
    }
    mets_streams_list_free(names, n);
    if (!rc && nz->nsig) {
        nz->text = 0;
        while (nz->text < train->data.ntexts && strcmp(train->texts[nz->text], METS_STREAMS_NOISE_TEXT))
            nz->text++;
        if (nz->text == train->data.ntexts) { /* a new text: one more to embed */
            char **grown = realloc(train->texts, (size_t)(nz->text + 1) * sizeof *grown);
            if (grown)
                train->texts = grown;
            if (!grown || !(train->texts[nz->text] = strdup(METS_STREAMS_NOISE_TEXT)))
                rc = mets_err_set(err, METS_ENOMEM, "out of memory");
            else
                train->data.ntexts++;
        }
        fprintf(stderr, "train: noise of %d channels (%.0f s each) mixed into %.0f %% of windows\n", nz->nsig,
                (double)nz->n / arch.rate_hz, 100 * nz->p);
    }
    return rc;
}

static int load_sets(const args *a, const mets_textenc *te, mets_ptbxl_set *train, mets_ptbxl_set *val,
                     mets_train_noise *nz, float **noise_sig, mets_err *err)
{
    unsigned tf, vf;
    if (mets_ptbxl_parse_folds(a->train_folds, &tf) || mets_ptbxl_parse_folds(a->val_fold, &vf))
        return mets_err_set(err, METS_EINVAL, "folds: expected a list like 1-8 or 9");
    mets_report_translator *tr = mets_report_translator_new(NULL, err);
    const char *dir = mets_cli_data_dir(a->data);
    mets_ecgenc_arch arch = mets_ecgenc_default_arch();
    int rc = tr ? 0 : err->code;
    rc = rc ?: mets_ptbxl_load(dir, tf, a->limit, arch.rate_hz, arch.samples, tr, train, err);
    rc = rc ?: mets_ptbxl_load(dir, vf, 0, arch.rate_hz, arch.samples, tr, val, err);
    mets_report_translator_free(tr);
    if (rc)
        return rc;
    fprintf(stderr, "train: %d windows (folds %s, %d distinct reports, %d records not in %s), validation: %d windows\n",
            train->data.n, a->train_folds, train->data.ntexts, train->missing, dir, val->data.n);
    if ((rc = add_streams(a, dir, train, err)) || (rc = load_noise(a, dir, train, nz, noise_sig, err)))
        return rc;
    train->data.text_dim = METS_TEXTENC_DIM;
    train->data.text_emb = malloc((size_t)train->data.ntexts * METS_TEXTENC_DIM * sizeof(float));
    if (!train->data.text_emb)
        return mets_err_set(err, METS_ENOMEM, "out of memory for report embeddings");
    return mets_textcache_embed(".cache/report-embeddings.mets", te, train->texts, train->data.ntexts,
                                train->data.text_emb, 0, err);
}

static char *join_args(int argc, char **argv)
{
    size_t len = 16;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (s) {
        strcpy(s, "mets");
        for (int i = 0; i < argc; i++)
            strcat(strcat(s, " "), argv[i]);
    }
    return s;
}

int mets_cmd_train(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    mets_err err;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", a.out);
    a.o.checkpoint = a.checkpoint ? a.checkpoint : ckpt, a.o.resume = a.resume;
    mets_textenc *te = mets_textenc_open(mets_cli_text_model(a.text_model), &err);
    mets_labels *labels = te ? mets_labels_load(a.labels, &err) : NULL;
    mets_ptbxl_set train = {0}, val = {0};
    train_ctx c = {.out = a.out, .keep_epochs = a.keep_epochs, .te = te, .labels = labels, .val = &val, .best = -1, .start = (double)time(NULL),
                   .command = join_args(argc, argv)};
    snprintf(c.tmp, sizeof c.tmp, "%s.epoch", a.out);
    mets_ecgenc_arch arch = mets_ecgenc_default_arch();
    mets_ecgnet *net = NULL;
    mets_train_noise nz;
    float *noise_sig = NULL;
    int *repeat = NULL, nrare = 0;
    rc = (te && labels && c.command) ? load_sets(&a, te, &train, &val, &nz, &noise_sig, &err) : METS_EINVAL;
    if (!rc && a.rare_repeat > 1 && !(repeat = rare_repeats(&train, a.rare_repeat, &nrare)))
        rc = mets_err_set(&err, METS_ENOMEM, "out of memory");
    if (!rc && repeat)
        fprintf(stderr, "train: %d windows of rare rhythms drawn %d times an epoch\n", nrare, a.rare_repeat);
    a.o.repeat = repeat, a.o.noise = nz.nsig ? &nz : NULL;
    if (!rc && !(net = mets_ecgnet_new(&arch, a.o.seed, &err)))
        rc = err.code;
    if (!rc) {
        fprintf(stderr, "train: encoder of %zu parameters, %.1f MFLOP per window; %d epochs of %d batches of %d\n",
                mets_ecgnet_scalars(net), mets_ecgenc_flops(&arch) * 1e-6, a.o.epochs, train.data.n / a.o.batch /* before repeats */,
                a.o.batch);
        a.o.on_epoch = on_epoch, a.o.ctx = &c;
        rc = mets_train_run(net, &train.data, &a.o, NULL, &err);
    }
    if (rc)
        fprintf(stderr, "mets train: %s\n", err.msg[0] ? err.msg : mets_err_name(rc));
    else
        fprintf(stderr, "mets train: wrote %s (epoch %d, validation mean macro AUC %.3f) in %.0f s\n", a.out,
                c.best_epoch, c.best, difftime(time(NULL), (time_t)c.start));
    mets_ecgnet_free(net);
    free(repeat), free(noise_sig);
    mets_ptbxl_free(&train), mets_ptbxl_free(&val);
    mets_labels_free(labels);
    mets_textenc_free(te);
    free((char *)c.command);
    return rc ? 1 : 0;
}

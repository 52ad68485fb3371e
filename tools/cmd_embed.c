/* mets embed [-m MODEL] [--tokens] TEXT...: prints each text's embedding by the frozen language model
 * as a JSON array on its own line, in the order given; with no TEXT, embeds each line of standard
 * input. --tokens prints {"text", "ids", "tokens"} objects instead, to see how a prompt is split. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "textenc.h"

static const char usage_text[] =
    "usage: mets embed [-m MODEL] [--tokens] [TEXT...]\n"
    "  Prints one JSON array of 384 floats per text (unit length: cosine = dot product).\n"
    "  Without TEXT, reads one text per line from standard input.\n"
    "  -m, --model FILE   the converted all-MiniLM-L6-v2 (default: $METS_TEXT_MODEL or set-up's)\n"
    "  -t, --tokens       print the token ids and wordpieces instead of the embedding\n";

static json_t *tokens_json(const mets_textenc *te, const char *text)
{
    const mets_tokenizer *tok = mets_textenc_tokenizer(te);
    int max = mets_textenc_max_tokens(te);
    int32_t *ids = malloc((size_t)max * sizeof *ids);
    int n = mets_tokenizer_encode(tok, text, ids, max);
    json_t *jids = json_array(), *jtoks = json_array();
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *s = mets_tokenizer_token(tok, ids[i], &len);
        json_array_append_new(jids, json_integer(ids[i]));
        json_array_append_new(jtoks, json_stringn(s, len));
    }
    free(ids);
    return json_pack("{s:s, s:o, s:o}", "text", text, "ids", jids, "tokens", jtoks);
}

static json_t *vector_json(const float *v, int dim)
{
    json_t *a = json_array();
    for (int i = 0; i < dim; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static int print_line(json_t *j)
{
    int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(8));
    json_decref(j);
    return rc || putchar('\n') == EOF;
}

static int embed_all(const mets_textenc *te, char **texts, int n, int tokens)
{
    mets_err err;
    int rc = 0;
    if (tokens) {
        for (int i = 0; i < n && !rc; i++)
            rc = print_line(tokens_json(te, texts[i]));
        return rc;
    }
    mets_textenc_ctx *ctx = mets_textenc_ctx_new(te, &err);
    float *out = malloc(((size_t)n + 1) * METS_TEXTENC_DIM * sizeof *out);
    if (!ctx || !out || mets_textenc_embed(te, ctx, (const char *const *)texts, n, out, &err)) {
        fprintf(stderr, "mets embed: %s\n", ctx && out ? err.msg : "out of memory");
        rc = 1;
    }
    for (int i = 0; i < n && !rc; i++)
        rc = print_line(vector_json(out + (size_t)i * METS_TEXTENC_DIM, METS_TEXTENC_DIM));
    free(out);
    mets_textenc_ctx_free(ctx);
    return rc;
}

/* Reads standard input into a NULL-terminated array of lines without their newlines. */
static char **read_lines(int *n)
{
    char **lines = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char **grown = realloc(lines, ((size_t)*n + 1) * sizeof *lines);
        if (!grown)
            break;
        lines = grown;
        lines[(*n)++] = strdup(line);
    }
    free(line);
    return lines;
}

int mets_cmd_embed(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"tokens", no_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model = NULL;
    int tokens = 0, c;
    while ((c = getopt_long(argc, argv, "m:th", opts, NULL)) != -1) {
        if (c == 'm')
            model = optarg;
        else if (c == 't')
            tokens = 1;
        else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    mets_err err;
    mets_textenc *te = mets_textenc_open(mets_cli_text_model(model), &err);
    if (!te) {
        fprintf(stderr, "mets embed: %s\n", err.msg);
        return 1;
    }
    int n = argc - optind, from_stdin = n == 0;
    char **texts = from_stdin ? read_lines(&n) : argv + optind;
    int rc = embed_all(te, texts, n, tokens);
    if (from_stdin) {
        for (int i = 0; i < n; i++)
            free(texts[i]);
        free(texts);
    }
    mets_textenc_free(te);
    return rc ? 1 : 0;
}

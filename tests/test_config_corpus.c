/* The corpus of bad configurations (tests/fixtures/bad_config/README.md): every file is refused by what
 * `mets check-config` runs, at the file:line:column and with the words its first line declares; every
 * file of tests/fixtures/good_config, and conf/metsd.yaml, is accepted. A labels file (a name starting
 * with "labels") is checked as the labels file of a configuration that is otherwise good.
 *
 * usage: test_config_corpus [BAD_DIR [GOOD_DIR]]   (another corpus is checked the same way) */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fileio.h"
#include "harness.h"

static const char *bad_dir = "tests/fixtures/bad_config", *good_dir = "tests/fixtures/good_config";

/* What a case declares: "# expect: LINE:COLUMN words" as its first line (after a byte order mark), or the
 * same without "# expect: " in NAME.expect for a file that cannot start with a comment. LINE:COLUMN may be
 * FILE:LINE:COLUMN when the error lies in another file. */
static int expectation(const char *path, char *where, size_t wlen, char *words, size_t len)
{
    static const char tag[] = "# expect: ";
    mets_err err;
    size_t n;
    char *text = mets_file_slurp(path, 1 << 20, &n, &err), *line = text, sidecar[PATH_MAX + 8];
    if (text && n >= 3 && !memcmp(line, "\xef\xbb\xbf", 3))
        line += 3;
    if (text && (size_t)(line - text) + sizeof tag - 1 <= n && !memcmp(line, tag, sizeof tag - 1)) {
        line += sizeof tag - 1;
    } else {
        free(text);
        snprintf(sidecar, sizeof sidecar, "%s.expect", path);
        line = text = mets_file_slurp(sidecar, 1 << 20, &n, &err);
    }
    if (!text)
        return -1;
    text[n] = 0; /* mets_file_slurp leaves room for it */
    line[strcspn(line, "\r\n")] = 0;
    size_t w = strcspn(line, " ");
    snprintf(where, wlen, "%.*s", (int)w, line);
    snprintf(words, len, "%s", line[w] ? line + w + 1 : "");
    free(text);
    return strchr(where, ':') ? 0 : -1;
}

static bool is_labels(const char *name)
{
    return !strncmp(name, "labels", 6);
}

/* The configuration that checks `path`: itself, or for a labels file one that names it (and the shipped
 * models) by absolute paths. `file` is the path messages give for `path`. */
static const char *config_for(const char *path, const char *name, char *file)
{
    char ecg[PATH_MAX], text[PATH_MAX];
    if (!is_labels(name) || !realpath(path, file) || !realpath("models/mets-ecg.mets", ecg) ||
        !realpath("models/all-minilm-l6-v2.mets", text)) {
        snprintf(file, PATH_MAX, "%s", path);
        return path;
    }
    const char *cfg = mets_test_tmp_path("metsd.yaml");
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL, "%s", cfg);
    if (f) {
        fprintf(f, "kafka:\n  bootstrap_servers: 127.0.0.1:9092\nmodels:\n  ecg: '%s'\n  text: '%s'\n  labels: '%s'\n",
                ecg, text, file);
        fclose(f);
    }
    return cfg;
}

static int yaml_files(const char *dir, struct dirent ***names)
{
    int n = scandir(dir, names, NULL, alphasort);
    CHECK(n > 0, "no such corpus: %s", dir);
    return n;
}

static bool is_case(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    return len > 5 && !strcmp(d->d_name + len - 5, ".yaml");
}

static void bad_configs_are_refused_where_they_say(void)
{
    struct dirent **names;
    int n = yaml_files(bad_dir, &names), cases = 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX], file[PATH_MAX], where[PATH_MAX], words[512], want[2 * PATH_MAX + 8];
        snprintf(path, sizeof path, "%s/%s", bad_dir, names[i]->d_name);
        if (is_case(names[i])) {
            cases++;
            mets_err err;
            CHECK(expectation(path, where, sizeof where, words, sizeof words) == 0,
                  "%s: no '# expect: LINE:COLUMN words' first line or .expect file", path);
            const char *cfg = config_for(path, names[i]->d_name, file);
            int rc = mets_config_check(cfg, &err);
            CHECK(rc != 0, "%s: accepted", path);
            if (strchr(where, ':') == strrchr(where, ':'))
                snprintf(want, sizeof want, "%s:%s: ", file, where);
            else
                snprintf(want, sizeof want, "%s: ", where);
            CHECK(rc == 0 || (strstr(err.msg, want) && strstr(err.msg, words)), "%s: expected '%s' and '%s', got: %s",
                  path, want, words, err.msg);
        }
        free(names[i]);
    }
    free(names);
    printf("  %d bad configurations in %s\n", cases, bad_dir);
}

static void good_configs_are_accepted(void)
{
    struct dirent **names;
    int n = yaml_files(good_dir, &names);
    mets_err err;
    CHECK(mets_config_check("conf/metsd.yaml", &err) == 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX], file[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", good_dir, names[i]->d_name);
        if (is_case(names[i]))
            CHECK(mets_config_check(config_for(path, names[i]->d_name, file), &err) == 0, "%s", err.msg);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    bad_dir = argc > 1 ? argv[1] : bad_dir;
    good_dir = argc > 2 ? argv[2] : good_dir;
    RUN(bad_configs_are_refused_where_they_say);
    RUN(good_configs_are_accepted);
    mets_test_remove_tmpdir();
    return mets_test_summary();
}

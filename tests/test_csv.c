/* The CSV reader (train/csv.c) on small files written by the test: quoting as in ptbxl_database.csv,
 * line ends, blank lines, and malformed files with their "path:line:" errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "harness.h"

static char *csv_file(const char *text)
{
    char *path = strdup("/tmp/mets_test_csv_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* The fields of every record joined by '|', records by '/', or the error message. */
static void read_all(const char *text, char *got, size_t cap, int *rc)
{
    char *path = csv_file(text);
    mets_err err = {0};
    mets_csv *csv = mets_csv_open(path, &err);
    *got = '\0';
    *rc = csv ? 0 : err.code;
    while (csv && (*rc = mets_csv_next(csv, &err)) == 1)
        for (size_t i = 0; i < mets_csv_ncolumns(csv); i++) {
            strncat(got, mets_csv_field(csv, i), cap - strlen(got) - 1);
            strncat(got, i + 1 < mets_csv_ncolumns(csv) ? "|" : "/", cap - strlen(got) - 1);
        }
    if (*rc < 0) {
        const char *msg = strstr(err.msg, ":") ? strstr(err.msg, ":") + 1 : err.msg; /* without the path */
        snprintf(got, cap, "%s", msg);
    }
    mets_csv_close(csv);
    unlink(path);
    free(path);
}

static void check_csv(const char *text, int want_rc, const char *want)
{
    char got[512];
    int rc;
    read_all(text, got, sizeof got, &rc);
    if (rc != want_rc || strcmp(got, want))
        mets_test_fail(__FILE__, __LINE__, "\"%s\"\n    gave %d \"%s\"\n    want %d \"%s\"", text, rc, got, want_rc,
                       want);
}

static void reads_quoted_fields(void)
{
    check_csv("id,report,scp_codes\n1,sinus rhythm,\"{'NORM': 100.0, 'SR': 0.0}\"\n", 0,
              "1|sinus rhythm|{'NORM': 100.0, 'SR': 0.0}/");
    check_csv("a,b\n\"say \"\"hi\"\"\",\"two\nlines\"\n", 0, "say \"hi\"|two\nlines/");
    check_csv("a,b,c\n,,\n\"\",x,\n", 0, "||/|x|/");
    check_csv("a,b\r\n1,2\r\n\r\n3,4", 0, "1|2/3|4/"); /* Windows line ends, a blank line, no final one */
    check_csv("a\n", 0, "");
}

static void finds_columns_and_lines(void)
{
    char *path = csv_file("ecg_id,report,strat_fold\n1,\"a,\nb\",3\n2,c,9\n");
    mets_err err = {0};
    mets_csv *csv = mets_csv_open(path, &err);
    CHECK(csv && mets_csv_column(csv, "strat_fold") == 2 && mets_csv_column(csv, "nope") == -1);
    CHECK(mets_csv_next(csv, &err) == 1 && mets_csv_line(csv) == 2 && !strcmp(mets_csv_field(csv, 1), "a,\nb"));
    CHECK(mets_csv_next(csv, &err) == 1 && mets_csv_line(csv) == 4, "line %d", mets_csv_line(csv));
    CHECK(!strcmp(mets_csv_field(csv, 2), "9") && !strcmp(mets_csv_field(csv, 7), ""));
    CHECK(mets_csv_next(csv, &err) == 0);
    mets_csv_close(csv);
    unlink(path);
    free(path);
}

static void rejects_malformed_files(void)
{
    check_csv("a,b\n1,\"open\n", METS_EFORMAT, "2: unterminated quoted field");
    check_csv("a,b\n1,2\n\"x\"y,2\n", METS_EFORMAT, "3: expected ',' or a line end after a closing quote, found 'y'");
    check_csv("a,b\n1,2\n1,2,3\n", METS_EFORMAT, "3: 3 fields, expected 2 as in the header");
    check_csv("", METS_EFORMAT, " empty file, expected a header row");
    mets_err err = {0};
    CHECK(!mets_csv_open("/nonexistent/x.csv", &err) && err.code == METS_EIO && strstr(err.msg, "/nonexistent/x.csv"));
}

int main(void)
{
    RUN(reads_quoted_fields);
    RUN(finds_columns_and_lines);
    RUN(rejects_malformed_files);
    return mets_test_summary();
}

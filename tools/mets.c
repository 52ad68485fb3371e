/* mets: the command-line tool (embed prompts, convert models; more subcommands as they land). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"embed", mets_cmd_embed, "embed texts with the frozen language model (JSON array per line)"},
    {"convert-minilm", mets_cmd_convert_minilm, "convert all-MiniLM-L6-v2 into the mets model file format"},
    {"reports", mets_cmd_reports, "translate the PTB-XL reports into English and print the coverage"},
    {"train", mets_cmd_train, "METS pre-training of the ECG encoder on PTB-XL"},
    {"eval", mets_cmd_eval, "zero-shot evaluation of a trained ECG model on any data directory"},
    {"check-config", mets_cmd_check_config, "validate a metsd configuration (default conf/metsd.yaml)"},
    {"broker", mets_cmd_broker, "development Kafka broker on loopback (librdkafka's mock cluster)"},
    {"replay", mets_cmd_replay, "publish WFDB records as EcgFrames to Kafka, at real-time pace or faster"},
    {"tail", mets_cmd_tail, "print alerts, embeddings or dead letters from Kafka as JSON lines"},
    {"plot", mets_cmd_plot, "draw an alert: the ECG strip on paper with its zero-shot scores (SVG or PNG)"},
    {"station", mets_cmd_station, "a live central-station page of the ward, served over HTTP"},
    {"pcd", mets_cmd_pcd, "send alerts to an alert manager as IHE PCD-04 (HL7 v2 ORU^R40 over MLLP)"},
};

const char *mets_cli_text_model(const char *flag)
{
    const char *env = getenv("METS_TEXT_MODEL");
    return flag ? flag : (env && *env) ? env : METS_DEFAULT_TEXT_MODEL;
}

const char *mets_cli_data_dir(const char *flag)
{
    const char *env = getenv("METS_DATA");
    return flag ? flag : (env && *env) ? env : METS_DEFAULT_DATA_DIR;
}

const char *mets_cli_bootstrap(const char *flag)
{
    const char *env = getenv("METS_BOOTSTRAP");
    return flag ? flag : (env && *env) ? env : "127.0.0.1:9092";
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mets COMMAND [ARGS]   (mets COMMAND --help for more)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mets %s\n", METS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mets: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

/* mets check-config [FILE]: validates a metsd configuration and the files it names, as metsd --check-config
 * will; --print-reference prints the reference of every key (docs/config.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"

int mets_cmd_check_config(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: mets check-config [FILE]     (default conf/metsd.yaml)\n"
               "       mets check-config --print-reference > docs/config.md\n");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--print-reference")) {
        mets_config_reference(stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: mets check-config [FILE]\n");
        return 2;
    }
    return mets_config_check_main(argc == 2 ? argv[1] : "conf/metsd.yaml");
}

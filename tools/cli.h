/* The `mets` command-line tool: one executable, one subcommand per file (cmd_<name>.c). Each
 * subcommand gets argv starting at its own name and returns the process exit status
 * (0 ok, 1 failure, 2 usage error). */
#ifndef METS_CLI_H
#define METS_CLI_H

int mets_cmd_embed(int argc, char **argv);
int mets_cmd_convert_minilm(int argc, char **argv);
int mets_cmd_reports(int argc, char **argv);
int mets_cmd_train(int argc, char **argv);
int mets_cmd_eval(int argc, char **argv);
int mets_cmd_check_config(int argc, char **argv);
int mets_cmd_broker(int argc, char **argv);
int mets_cmd_replay(int argc, char **argv);
int mets_cmd_tail(int argc, char **argv);
int mets_cmd_plot(int argc, char **argv);
int mets_cmd_pcd(int argc, char **argv);
int mets_cmd_station(int argc, char **argv);

/* The frozen language model: -m, else $METS_TEXT_MODEL, else where set-up converts it. */
const char *mets_cli_text_model(const char *flag);

/* The data folder (holding ptbxl/, mitdb/, ...): --data, else $METS_DATA, else the repository's
 * .cache/data where set-up unpacks the data sets. */
const char *mets_cli_data_dir(const char *flag);

/* The Kafka bootstrap servers: --bootstrap, else $METS_BOOTSTRAP (the dev broker's address, README),
 * else 127.0.0.1:9092. */
const char *mets_cli_bootstrap(const char *flag);

#endif

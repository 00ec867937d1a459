// One function per subcommand; each parses its own options (argv[0] is the command name) and
// returns the process exit status.
#ifndef AGESHIFT_CLI_COMMANDS_H
#define AGESHIFT_CLI_COMMANDS_H

#define AGESHIFT_VERSION "0.1.0"
// The model used when --model is not given: the trained default shipped in samples/.
#define DEFAULT_MODEL "samples/model.safetensors"

int cmd_version(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_translate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_live(int argc, char **argv);

#endif

// One function per subcommand; each parses its own options (argv[0] is the command name) and
// returns the process exit status.
#ifndef AGESHIFT_CLI_COMMANDS_H
#define AGESHIFT_CLI_COMMANDS_H

#define AGESHIFT_VERSION "0.1.0"

int cmd_version(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif

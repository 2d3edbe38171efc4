/* cli.h - shared by the faceau command's subcommands. */
#ifndef FACEAU_CLI_H
#define FACEAU_CLI_H

#define CLI_MAX_INPUTS 1024

/* `faceau detect ...`: argv[0] is "detect". */
int detect_main(int argc, char **argv);

#endif

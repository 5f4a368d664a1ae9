/*
 * rollwave-agentd: the resident half of `rollwave-agent run` (daemon.h).
 *
 *   rollwave-agentd [--config=FILE] --agent=PATH
 *
 * `rollwave-agent run` recovers interrupted operations and then execs this
 * program in its own process; it is not meant to be started by hand. PATH
 * is the rollwave-agent executable that runs each coordinator command
 * (`rollwave-agent worker`, worker.h). Its link leaves out the release
 * engine and its libraries (libcurl, libarchive, libcrypto and what they
 * pull in), so that an idle agent stays small.
 *
 * Exit status: 0 clean stop, 1 could not start, 2 usage or configuration
 * error.
 */
#include <sodium.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

#define EXIT_USAGE 2

int
main(int argc, char **argv)
{
	struct daemon_options opts = {0};
	struct agent_config cfg;
	struct rw_err err = {{0}};
	int r;

	log_setup("rollwave-agent", LOG_TARGET_AUTO,
	        isempty(getenv("ROLLWAVE_DEBUG")) ? LOG_INFO : LOG_DEBUG);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config=", 9) == 0)
			opts.config_path = argv[i] + 9;
		else if (strncmp(argv[i], "--agent=", 8) == 0)
			opts.agent_path = argv[i] + 8;
		else {
			fprintf(stderr, "rollwave-agentd: unknown argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (isempty(opts.agent_path)) {
		fputs("usage: rollwave-agentd [--config=FILE] --agent=PATH\n"
		      "(started by 'rollwave-agent run', which recovers interrupted operations "
		      "first)\n",
		        stderr);
		return EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return 1;
	}
	r = agent_config_load(opts.config_path, &cfg, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	r = daemon_run(&cfg, &opts);
	agent_config_done(&cfg);
	return r;
}

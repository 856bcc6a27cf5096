#include "base/devfault.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

void devfault_trip(const struct config *cfg, const char *point)
{
	char line[64] = "";
	FILE *f;

	if (!cfg->dev_mode || cfg->dev_fault_file[0] == '\0' || (f = fopen(cfg->dev_fault_file, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (strcmp(line, point) != 0 || unlink(cfg->dev_fault_file) != 0)
		return;
	log_error("dev fault point %s: killing this process (SIGKILL)", point);
	kill(getpid(), SIGKILL);
}
